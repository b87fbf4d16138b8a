"""flowsite.yml: the typed schema, the YAML loader that remembers lines, and the Config model."""
from __future__ import annotations

import glob as globmod
import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import _schema as s
from . import memo as memo_store
from .errors import ConfigError, Problem, SourceError

CONFIG_NAMES = ("flowsite.yml", "flowsite.yaml")
DATASETS = ("work_items", "status_changes", "deployments", "changes", "incidents", "survey_responses", "kpis")
FLOW_TYPES = ("feature", "defect", "risk", "debt")
STATUS_CATEGORIES = ("new", "waiting", "active", "done", "canceled")
PERIODS = ("week", "month", "quarter")
BENCHMARKS = ("2019", "2021", "2022", "2023", "2024", "devlake-2021", "devlake-2023", "fourkeys", "custom")
PROFILES = ("flowsite", "devlake", "fourkeys")
SLUG = r"[a-z0-9][a-z0-9_-]*"

TARGET = s.Section(
    {
        "target": s.Float("The value the figure should reach.", required=True),
        "direction": s.Choice("Whether higher or lower is better; defaults to the metric's own direction.", choices=["higher", "lower"]),
        "at_risk": s.Float("Threshold between at-risk and off-track. Defaults to 10% beyond the target."),
    },
    "A target for one figure.",
    shorthand="target",
)

SOURCE = s.Section(
    {
        "path": s.Str("File or glob, relative to the project folder (e.g. `data/deployments*.csv`)."),
        "format": s.Str("File format (`csv`, `parquet`, `json`, `ndjson`) or an importer preset such as `jira-csv`. Guessed from the extension when omitted."),
        "columns": s.MapOf(s.Str(), "Canonical column name -> column name in your file."),
        "timezone": s.Timezone("Time zone of timestamps in this file that carry no offset; defaults to the project timezone."),
        "date_format": s.Str("strftime-style format of timestamps when they are not ISO 8601, e.g. `%d/%m/%Y %H:%M`."),
        "value_stream": s.Str("Value stream id for every row, when the file has no value stream column."),
        "delimiter": s.Str("CSV field separator (default `,`)."),
        "encoding": s.Choice("Text encoding of CSV files.", choices=["utf-8", "utf-16", "latin-1", "cp1252"], default="utf-8"),
        "duckdb": s.Str("Path of a DuckDB database file to read the dataset from."),
        "table": s.Str("Table or view to read (DuckDB / PostgreSQL sources)."),
        "query": s.Str("SQL query to read (DuckDB / PostgreSQL sources)."),
        "dbt_ref": s.Str("Name of a dbt model whose built relation holds the dataset (needs `dbt`)."),
        "postgres": s.Str("PostgreSQL connection URI (`postgresql://user@host/db`); use `env:NAME` to read it from an environment variable."),
        "options": s.MapOf(s.Str(), "Preset-specific options (see the importer's documentation)."),
    },
    "Where one canonical dataset comes from.",
    shorthand="path",
)

KPI = s.Section(
    {
        "id": s.Str("KPI id as it appears in the `kpi` column of the kpis dataset.", required=True, pattern=SLUG, pattern_help="a lowercase id (letters, digits, - and _)"),
        "name": s.Str("Display name."),
        "unit": s.Str("Unit shown after the value (e.g. `%`, `EUR`, `NPS`).", default=""),
        "direction": s.Choice("Whether higher or lower is better.", choices=["higher", "lower"], default="higher"),
        "target": s.Float("Target value."),
        "at_risk": s.Float("Threshold between at-risk and off-track."),
        "description": s.Str("What the KPI means for the business.", default=""),
    },
    "A business KPI of a value stream.",
)

MATCH = s.Section(
    {
        "projects": s.ListOf(s.Str(), "Tracker projects (e.g. Jira project keys) that belong to this value stream.", allow_single=True),
        "labels": s.ListOf(s.Str(), "Labels or components that put an item in this value stream.", allow_single=True),
        "repos": s.ListOf(s.Str(), "Repositories (owner/name) whose deployments and changes belong here.", allow_single=True),
        "services": s.ListOf(s.Str(), "Incident services (PagerDuty service, Opsgenie team) that belong here.", allow_single=True),
    },
    "Rules that assign rows without a value stream column to this value stream.",
)

VALUE_STREAM = s.Section(
    {
        "id": s.Str("Stable id used in URLs and data (lowercase letters, digits, - and _).", required=True, pattern=SLUG, pattern_help="a lowercase id (letters, digits, - and _)"),
        "name": s.Str("Display name."),
        "description": s.Str("One or two sentences on what the value stream delivers.", default=""),
        "owners": s.ListOf(s.Str(), "People or teams accountable for the value stream.", allow_single=True),
        "investment": s.MapOf(s.Float(min=0, max=1), "Intended share of each flow item type (feature, defect, risk, debt), summing to 1.", keys=list(FLOW_TYPES)),
        "kpis": s.ListOf(KPI, "Business KPIs with targets."),
        "targets": s.MapOf(TARGET, "Targets for this value stream's figures, overriding the project-wide `targets`."),
        "map": s.Str("Path of a value stream map YAML file (steps with process_time, lead_time, pct_complete_accurate)."),
        "match": MATCH,
    },
    "One value stream (a product, journey or platform).",
)

CUSTOM_TIER = s.Section(
    {
        "elite": s.Float("Bound for elite."),
        "high": s.Float("Bound for high."),
        "medium": s.Float("Bound for medium."),
    },
    "Tier bounds for one metric: higher-is-better metrics need value >= bound, lower-is-better value <= bound.",
)

CUSTOM_METRIC = s.Section(
    {
        "id": s.Str("Metric id used in URLs, targets and data (lowercase letters, digits, - and _); must differ from the built-in ids.", required=True, pattern=SLUG, pattern_help="a lowercase id (letters, digits, - and _)"),
        "name": s.Str("Display name; defaults to the id."),
        "description": s.Str("The definition shown on the metric's page.", default=""),
        "group": s.Choice("Scorecard section the figure appears in.", choices=["outcomes", "flow", "delivery", "culture", "vsm"], default="delivery"),
        "sql": s.Str("A polars SQL query over the canonical datasets (tables named `work_items`, `deployments`, ...). It returns `value_stream`, `value` and either `period` (a period label such as 2026-10, or `window`) with `n`, or a timestamp column whose rows are bucketed into periods with `aggregate`.", required=True),
        "unit": s.Str("Unit shown after the value (e.g. `%`, `hours`, `per week`).", default=""),
        "direction": s.Choice("Whether higher or lower is better (leave out when neither is).", choices=["higher", "lower"]),
        "target": s.Float("Target value (project-wide; `targets:` and a value stream's `targets:` override it)."),
        "at_risk": s.Float("Threshold between at-risk and off-track. Defaults to 10% beyond the target."),
        "decimals": s.Int("Decimals shown.", min=0, max=6, default=1),
        "statistic": s.Str("How the figure is computed, in a few words (shown on the metric page).", default="custom SQL"),
        "aggregate": s.Choice("How rows with a timestamp column are combined per value stream and period (`n` is the row count).", choices=["sum", "mean", "median", "min", "max", "count", "p85", "p95"], default="sum"),
    },
    "A metric defined as SQL in the project (metrics as code).",
)

SCHEMA = s.Section(
    {
        "name": s.Str("Organisation or project name shown in the site header.", required=True),
        "description": s.Str("A sentence shown under the title on the overview.", default=""),
        "period": s.Choice("Reporting period of the scorecards.", choices=list(PERIODS), default="month"),
        "window": s.Int("How many periods of history each scorecard shows.", min=1, max=520, default=12),
        "as_of": s.Date("Last day covered by the scorecards; defaults to the newest timestamp in the data."),
        "timezone": s.Timezone("Time zone for period boundaries and for timestamps without an offset.", default="UTC"),
        "benchmark": s.Choice("DORA benchmark set used for performance tiers.", choices=list(BENCHMARKS), default="2024"),
        "benchmark_thresholds": s.MapOf(CUSTOM_TIER, "Tier bounds used when `benchmark: custom` (metric id -> bounds)."),
        "profile": s.Choice("Definition profile: `flowsite` (default), or the rules of `devlake` or `fourkeys`.", choices=list(PROFILES), default="flowsite"),
        "incident_window_hours": s.Float("How long after a deployment an incident may still be attributed to it (flowsite profile).", min=0, default=168.0),
        "environments": s.ListOf(s.Str(), "Deployment environments that count as production (case-insensitive).", allow_single=True, default=lambda: ["production", "prod"]),
        "sources": s.MapOf(SOURCE, "Dataset name -> where it comes from.", keys=list(DATASETS), key_help="a canonical dataset name"),
        "value_streams": s.ListOf(VALUE_STREAM, "The value streams, in display order."),
        "statuses": s.MapOf(s.ListOf(s.Str(), allow_single=True), "Status category (new, waiting, active, done, canceled) -> tracker statuses.", keys=list(STATUS_CATEGORIES)),
        "types": s.MapOf(s.ListOf(s.Str(), allow_single=True), "Flow item type (feature, defect, risk, debt) -> tracker issue types.", keys=list(FLOW_TYPES)),
        "targets": s.MapOf(TARGET, "Project-wide targets per metric id (e.g. `lead_time: {target: 24}`)."),
        "metrics": s.ListOf(CUSTOM_METRIC, "Your own metrics as SQL over the canonical datasets; they appear on scorecards and metric pages like the built-in ones."),
        "pages": s.Str("Folder of markdown narrative pages.", default="pages"),
        "theme": s.Section({"custom_dir": s.Str("Folder whose templates and static files override the built-in theme.")}, "Theme overrides."),
        "markdown": s.Section({"html": s.Bool("Allow raw HTML in markdown pages (sanitised).", default=False)}, "Markdown options."),
        "dbt": s.Section(
            {
                "project": s.Str("Folder of the dbt project (holding dbt_project.yml), relative to the flowsite project; `dbt: folder` is short for `dbt: {project: folder}`."),
                "target": s.Str("dbt target (output of the profile) whose relations to read; defaults to the profile's `target`."),
                "profiles_dir": s.Str("Folder holding profiles.yml; defaults to $DBT_PROFILES_DIR, the dbt project folder, then ~/.dbt."),
                "exposures": s.Str("File `flowsite dbt-exposures` writes, relative to the dbt project.", default="models/flowsite_exposures.yml"),
            },
            "A dbt project whose models feed datasets named with `dbt_ref` (run `dbt build` first).",
            shorthand="project",
        ),
        "site": s.Section(
            {
                "title": s.Str("Site title; defaults to `name`."),
                "base_url": s.Str("Public URL of the site root, for canonical links and sitemap.xml (e.g. https://org.github.io/repo/)."),
                "output": s.Str("Default output folder, relative to the project.", default="site"),
            },
            "Site options.",
        ),
    },
    "flowsite.yml",
)

DEFAULT_STATUSES = {
    "new": ["New", "Open", "Backlog", "To Do", "Todo"],
    "waiting": ["Ready", "Selected for Development", "Blocked", "Waiting", "In Review", "Review", "Ready for QA", "Ready for Release"],
    "active": ["In Progress", "In Development", "Doing", "QA", "Testing", "In Test"],
    "done": ["Done", "Closed", "Resolved", "Released"],
    "canceled": ["Canceled", "Cancelled", "Won't Do", "Won't Fix", "Duplicate", "Rejected"],
}
DEFAULT_TYPES = {
    "feature": ["feature", "Story", "Feature", "Epic", "New Feature", "Improvement", "Enhancement"],
    "defect": ["defect", "Bug", "Defect", "Incident", "Problem"],
    "risk": ["risk", "Security", "Vulnerability", "Compliance", "Risk"],
    "debt": ["debt", "Tech Debt", "Technical Debt", "Chore", "Refactoring", "Task", "Sub-task"],
}


@dataclass(frozen=True)
class SourceSpec:
    dataset: str
    path: str | None
    format: str | None
    columns: dict[str, str]
    timezone: str
    date_format: str | None = None
    value_stream: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8"
    duckdb: str | None = None
    table: str | None = None
    query: str | None = None
    dbt_ref: str | None = None
    postgres: str | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    target: float
    direction: str | None = None
    at_risk: float | None = None


@dataclass(frozen=True)
class CustomMetric:
    id: str
    name: str
    description: str
    group: str
    sql: str
    unit: str
    direction: str | None
    decimals: int
    statistic: str
    aggregate: str
    sql_line: int | None = None  # line of `sql:` in flowsite.yml, for error messages


@dataclass(frozen=True)
class Kpi:
    id: str
    name: str
    unit: str
    direction: str
    target: float | None
    at_risk: float | None
    description: str


@dataclass(frozen=True)
class ValueStream:
    id: str
    name: str
    description: str
    owners: tuple[str, ...]
    investment: dict[str, float]
    kpis: tuple[Kpi, ...]
    targets: dict[str, Target]
    map: str | None
    match: dict[str, list[str]]


@dataclass(frozen=True)
class DbtProject:
    """The `dbt:` section: where the dbt project is and which target's relations to read."""

    project_dir: Path
    target: str | None
    profiles_dir: Path | None
    exposures: str


@dataclass(frozen=True)
class Config:
    project_dir: Path
    config_file: Path
    name: str
    description: str
    period: str
    window: int
    as_of: dt.date | None
    timezone: str
    benchmark: str
    benchmark_thresholds: dict[str, dict[str, float]]
    profile: str
    incident_window_hours: float
    environments: tuple[str, ...]
    sources: dict[str, SourceSpec]
    value_streams: tuple[ValueStream, ...]
    statuses: dict[str, str]  # tracker status (lower-case) -> category
    types: dict[str, str]  # tracker type (lower-case) -> flow item type
    targets: dict[str, Target]
    pages_dir: Path
    theme_dir: Path | None
    markdown_html: bool
    title: str
    base_url: str | None
    output_dir: Path
    warnings: tuple[Problem, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    dbt: DbtProject | None = None
    metrics: tuple[CustomMetric, ...] = ()

    def resolve(self, relative: str) -> Path:
        """A path from the config, relative to the project folder."""
        return (self.project_dir / relative).resolve()

    def value_stream(self, vs_id: str) -> ValueStream | None:
        return next((v for v in self.value_streams if v.id == vs_id), None)

    def target_for(self, vs_id: str, metric: str) -> Target | None:
        vs = self.value_stream(vs_id)
        if vs and metric in vs.targets:
            return vs.targets[metric]
        return self.targets.get(metric)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader; we compose nodes ourselves to keep line numbers per key."""


# libyaml parses a 500-stream config ten times faster; its error messages are terser, so a
# document it rejects is parsed again by the pure-Python loader, which explains the problem.
_FastLoader = getattr(yaml, "CSafeLoader", None)


def _compose(text: str):
    if _FastLoader is not None and not yaml.reader.Reader.NON_PRINTABLE.search(text):
        loader = _FastLoader(text)
        try:
            return loader, loader.get_single_node()
        except yaml.YAMLError:
            loader.dispose()
    loader = _LineLoader(text)  # the reader rejects NULs and other unprintable characters here
    try:
        return loader, loader.get_single_node()
    except yaml.YAMLError:
        loader.dispose()
        raise


MAX_YAML_NODES = 200_000  # aliases can expand a few lines into billions of values ("billion laughs")


class _YamlShape(Exception):
    """A YAML document that parses but that no config could mean (reported as a ConfigError)."""

    def __init__(self, message: str, line: int, hint: str | None = None):
        super().__init__(message)
        self.line, self.hint = line, hint


def _to_python(node: yaml.Node, loader: yaml.SafeLoader, path: str, lines: dict[str, int], budget: list[int] | None = None) -> Any:
    budget = budget if budget is not None else [MAX_YAML_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise _YamlShape(f"expected a config, got more than {MAX_YAML_NODES} values once aliases are expanded", node.start_mark.line + 1, "remove the nested aliases (&name / *name)")
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (list, dict, set)):
                raise _YamlShape(f"expected a plain key, got {s.describe(key)}", line, "quote the key or remove the brackets")
            if key in out:
                raise _YamlShape(f"duplicate key {key!r} (also on line {lines.get(s.join(path, str(key)), '?')})", line, "keep one of them; YAML would silently use the last")
            sub = s.join(path, str(key))
            lines[sub] = line
            out[key] = _to_python(value_node, loader, sub, lines, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, loader, s.join(path, i), lines, budget) for i, v in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


MEMO_KEEP = 8  # parsed configs kept in a memo folder


def _memo_get(memo: Path | None, text: str) -> tuple[Path | None, tuple[Any, dict[str, int]] | None]:
    """(the memo file of this text, what it holds). A config of 500 value streams takes a tenth of
    a second to walk for its lines; a rebuild mostly reads the same text again."""
    if memo is None:
        return None, None
    path = memo / (hashlib.sha256(text.encode("utf-8")).hexdigest() + ".pickle")
    got = memo_store.read(path)
    return path, got if isinstance(got, tuple) and len(got) == 2 and isinstance(got[1], dict) else None


def read_yaml(path: Path, display: str | None = None, memo: Path | None = None) -> tuple[Any, dict[str, int]]:
    """Safe-load YAML keeping the line of every dotted key. Raises ConfigError on syntax errors.

    `memo`: a folder where the result is kept by the text's sha256 (the caller makes it specific to
    flowsite's code)."""
    display = display or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(problems=[Problem("file not found", file=display, hint="run `flowsite init DIR` to create a project")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(problems=[Problem(f"expected UTF-8 text, got undecodable bytes at offset {exc.start}", file=display, hint="save the file as UTF-8")]) from None
    except OSError as exc:
        raise ConfigError(problems=[Problem(f"cannot read: {exc.strerror}", file=display)]) from None
    memo_file, got = _memo_get(memo, text)
    if got is not None:
        return got
    lines: dict[str, int] = {}
    loader = None
    try:
        loader, node = _compose(text)
        data = _to_python(node, loader, "", lines) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(problems=[Problem(f"invalid YAML: {problem}", file=display, line=line, hint="check indentation and quoting around this line")]) from None
    except _YamlShape as exc:
        raise ConfigError(problems=[Problem(str(exc), file=display, line=exc.line, hint=exc.hint)]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if memo_file is not None:
        memo_store.write(memo_file, (data, lines), MEMO_KEEP)
    return data, lines


def find_config(project: str | Path) -> Path:
    project = Path(project)
    if project.is_file():
        return project
    for name in CONFIG_NAMES:
        if (project / name).is_file():
            return project / name
    if not project.exists():
        raise ConfigError(problems=[Problem("project folder not found", file=str(project), hint="pass the folder that holds flowsite.yml")])
    raise ConfigError(problems=[Problem("no flowsite.yml in this folder", file=str(project), hint="run `flowsite init DIR` to create a project, or pass the right folder")])


def load_config(project: str | Path = ".", *, strict: bool = False, overrides: dict[str, Any] | None = None, memo: Path | None = None) -> Config:
    """Read and validate flowsite.yml. All problems are reported at once as one ConfigError.
    `memo`: see `read_yaml`."""
    config_file = find_config(project)
    project_dir = config_file.parent.resolve()
    display = str(config_file)
    data, lines = read_yaml(config_file, display, memo)
    if data is None:
        data = {}
    if overrides:
        data = {**data, **overrides}
    ctx = s.Context(file=display, lines=lines)
    if not isinstance(data, dict):
        ctx.error("", f"expected a mapping of settings at the top level, got {s.describe(data)}", hint="start with `name: My company`")
        raise ConfigError(f"aborted with {len(ctx.errors)} configuration error(s) in {display}", problems=ctx.errors)
    clean = SCHEMA.validate(data, "", ctx)
    if clean is not s.MISSING:
        _cross_checks(clean, ctx, project_dir)
    problems = ctx.errors + (ctx.warnings if strict else [])
    if problems:
        raise ConfigError(
            f"aborted with {len(problems)} configuration error(s) in {display}" + (" (warnings are fatal with --strict)" if strict and ctx.warnings else ""),
            problems=problems,
        )
    return _build(clean, config_file, project_dir, tuple(ctx.warnings), data)


def _cross_checks(c: dict, ctx: s.Context, project_dir: Path) -> None:
    seen: set[str] = set()
    for i, vs in enumerate(c.get("value_streams", [])):
        vid = vs.get("id")
        if vid in seen:
            ctx.error(f"value_streams[{i}].id", f"expected a unique id, got {vid!r} a second time", hint="each value stream needs its own id")
        seen.add(vid)
        inv = vs.get("investment") or {}
        if inv and abs(sum(inv.values()) - 1.0) > 0.011:
            ctx.error(f"value_streams[{i}].investment", f"expected shares summing to 1, got {sum(inv.values()):g}", hint="write shares as fractions, e.g. feature: 0.6")
        kpi_ids = [k["id"] for k in vs.get("kpis", [])]
        for dup in {k for k in kpi_ids if kpi_ids.count(k) > 1}:
            ctx.error(f"value_streams[{i}].kpis", f"expected unique KPI ids, got {dup!r} twice")
    for name, src in c.get("sources", {}).items():
        kinds = [k for k in ("path", "duckdb", "dbt_ref", "postgres") if src.get(k)]
        if not kinds:
            ctx.error(f"sources.{name}", "expected one of path, duckdb, dbt_ref or postgres, got none", hint=f"e.g. `{name}: data/{name}.csv`")
        if src.get("duckdb") and not (src.get("table") or src.get("query")):
            ctx.error(f"sources.{name}.duckdb", "expected `table` or `query` beside `duckdb`")
        if src.get("postgres") and not (src.get("table") or src.get("query")):
            ctx.error(f"sources.{name}.postgres", "expected `table` or `query` beside `postgres`")
        if src.get("dbt_ref") and not c.get("dbt", {}).get("project"):
            ctx.error(f"sources.{name}.dbt_ref", "expected a top-level `dbt:` section naming the dbt project", hint="add `dbt: {project: path/to/dbt_project}`")
    if {k for k, v in c.get("dbt", {}).items() if v is not None} - {"exposures"} and not c["dbt"].get("project"):
        ctx.error("dbt.project", "expected the folder of the dbt project, got nothing", hint="e.g. `dbt: {project: warehouse}`")
    if c.get("benchmark") == "custom" and not c.get("benchmark_thresholds"):
        ctx.error("benchmark_thresholds", "expected tier bounds when benchmark is custom, got none", hint="e.g. benchmark_thresholds: {lead_time: {elite: 24, high: 168, medium: 720}}")
    metric_ids: set[str] = set()
    for i, m in enumerate(c.get("metrics", [])):
        if m.get("id") in metric_ids:
            ctx.error(f"metrics[{i}].id", f"expected a unique metric id, got {m.get('id')!r} a second time")
        metric_ids.add(m.get("id"))
        m["sql_line"] = ctx.line(f"metrics[{i}].sql")
    mapped: dict[str, str] = {}
    for cat, names in c.get("statuses", {}).items():
        for n in names:
            if n.lower() in mapped and mapped[n.lower()] != cat:
                ctx.error(f"statuses.{cat}", f"expected each status in one category, got {n!r} in both {mapped[n.lower()]} and {cat}")
            mapped[n.lower()] = cat


def _build(c: dict, config_file: Path, project_dir: Path, warnings: tuple[Problem, ...], raw: dict) -> Config:
    tz = c["timezone"]
    sources = {
        name: SourceSpec(
            dataset=name,
            path=src.get("path"),
            format=src.get("format"),
            columns=src.get("columns", {}),
            timezone=src.get("timezone") or tz,
            date_format=src.get("date_format"),
            value_stream=src.get("value_stream"),
            delimiter=src.get("delimiter") or ",",
            encoding=src.get("encoding", "utf-8"),
            duckdb=src.get("duckdb"),
            table=src.get("table"),
            query=src.get("query"),
            dbt_ref=src.get("dbt_ref"),
            postgres=src.get("postgres"),
            options=src.get("options", {}),
        )
        for name, src in sorted(c.get("sources", {}).items())
    }
    vss = []
    for vs in c.get("value_streams", []):
        vss.append(
            ValueStream(
                id=vs["id"],
                name=vs.get("name") or vs["id"],
                description=vs.get("description", ""),
                owners=tuple(vs.get("owners", [])),
                investment=dict(vs.get("investment", {})),
                kpis=tuple(
                    Kpi(k["id"], k.get("name") or k["id"], k.get("unit", ""), k.get("direction", "higher"), k.get("target"), k.get("at_risk"), k.get("description", ""))
                    for k in vs.get("kpis", [])
                ),
                targets={m: Target(**t) for m, t in vs.get("targets", {}).items()},
                map=vs.get("map"),
                match={k: list(v) for k, v in vs.get("match", {}).items() if v},
            )
        )
    statuses: dict[str, str] = {}
    for cat, names in DEFAULT_STATUSES.items():
        for n in names:
            statuses[n.lower()] = cat
    for cat in STATUS_CATEGORIES:
        statuses[cat] = cat
    for cat, names in c.get("statuses", {}).items():
        for n in names:
            statuses[n.lower()] = cat
    types: dict[str, str] = {}
    for t, names in DEFAULT_TYPES.items():
        for n in names:
            types[n.lower()] = t
    for t, names in c.get("types", {}).items():
        for n in names:
            types[n.lower()] = t
    site = c.get("site", {})
    theme = c.get("theme", {})
    return Config(
        project_dir=project_dir,
        config_file=config_file,
        name=c["name"],
        description=c.get("description", ""),
        period=c["period"],
        window=c["window"],
        as_of=c.get("as_of"),
        timezone=tz,
        benchmark=c["benchmark"],
        benchmark_thresholds=c.get("benchmark_thresholds", {}),
        profile=c["profile"],
        incident_window_hours=c["incident_window_hours"],
        environments=tuple(e.lower() for e in c["environments"]),
        sources=sources,
        value_streams=tuple(vss),
        statuses=statuses,
        types=types,
        targets={**{m["id"]: Target(m["target"], None, m.get("at_risk")) for m in c.get("metrics", []) if m.get("target") is not None},
                 **{m: Target(**t) for m, t in c.get("targets", {}).items()}},
        pages_dir=(project_dir / c["pages"]).resolve(),
        theme_dir=(project_dir / theme["custom_dir"]).resolve() if theme.get("custom_dir") else None,
        markdown_html=c.get("markdown", {}).get("html", False),
        title=site.get("title") or c["name"],
        base_url=site.get("base_url"),
        output_dir=(project_dir / site.get("output", "site")).resolve(),
        warnings=warnings,
        raw=raw,
        dbt=DbtProject(
            project_dir=(project_dir / c["dbt"]["project"]).resolve(),
            target=c["dbt"].get("target"),
            profiles_dir=(project_dir / c["dbt"]["profiles_dir"]).resolve() if c["dbt"].get("profiles_dir") else None,
            exposures=c["dbt"]["exposures"],
        ) if c.get("dbt", {}).get("project") else None,
        metrics=tuple(
            CustomMetric(m["id"], m.get("name") or m["id"], m.get("description", ""), m["group"], m["sql"], m.get("unit", ""), m.get("direction"),
                         m["decimals"], m["statistic"], m["aggregate"], m.get("sql_line"))
            for m in c.get("metrics", [])
        ),
    )


def source_files(config: Config, spec: SourceSpec) -> list[Path]:
    """The files a source's `path` names (a glob may match several), sorted for stable output."""
    pattern = str(config.resolve(spec.path)) if not Path(spec.path).is_absolute() else spec.path
    if any(ch in spec.path for ch in "*?["):
        files = sorted(Path(p) for p in globmod.glob(pattern, recursive=True) if Path(p).is_file())
        if not files:
            raise SourceError(problems=[Problem(f"the glob {spec.path!r} matched no files", file=str(config.config_file), key=f"sources.{spec.dataset}.path", hint="check the folder and the pattern; paths are relative to the project folder")])
        return files
    path = Path(pattern)
    if not path.exists():
        raise SourceError(problems=[Problem("file not found", file=spec.path, key=f"sources.{spec.dataset}.path", hint=f"paths are relative to the project folder {config.project_dir.name}/")])
    if path.is_dir():
        raise SourceError(problems=[Problem("expected a file, got a folder", file=spec.path, key=f"sources.{spec.dataset}.path", hint="use a glob such as folder/*.csv")])
    return [path]
