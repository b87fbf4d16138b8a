"""Fuzzing: the config loader and every importer (CSV, JSON, NDJSON, Parquet, every registered preset)
plus normalize, under hypothesis for a bounded number of examples.

Any exception other than a FlowsiteError subclass is a bug (the CLI would exit 2) and fails the test.
Budgets are example counts with no deadline, sized so the whole file runs in under a minute
(FLOWSITE_FUZZ_SCALE multiplies them for a longer campaign).
"""
from __future__ import annotations

import ast
import copy
import datetime as dt
import io
import json
import os
import re
import tempfile
from pathlib import Path

import polars as pl
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from flowsite.config import load_config
from flowsite.datasets import DATASETS
from flowsite.errors import FlowsiteError
from flowsite.sources import load_sources
from flowsite.sources import presets as presets_pkg
from tests.bad_inputs.tiny import CONFIG

# FLOWSITE_FUZZ_SCALE=10 runs ten times the examples (a longer local campaign); CI uses the default.
SCALE = float(os.environ.get("FLOWSITE_FUZZ_SCALE", "1"))


def budget(n: int) -> int:
    return max(1, int(n * SCALE))


FUZZ = dict(deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])

# ---- building blocks ----------------------------------------------------------------------------

CANONICAL = sorted({c for d in DATASETS.values() for c in d.columns})
CELL_PIECES = ["", " ", ",", '"', '""', "\n", "\r\n", ";", "\t", "\\", "'", "\x00", "\ufeff", "é", "中", "\U0001f600", "\u202e",
               "2026-07-01", "2026-07-01T10:00:00Z", "2026-07-01 10:00:00+02:00", "2026-03-29T02:30:00", "01/07/2026", "2026-13-45T99:99:99",
               "9999-12-31T23:59:59Z", "0001-01-01", "1e308", "-1e308", "NaN", "inf", "-0", "0", "7", "3.5", "1" * 30, "true", "FALSE", "null",
               "shop", "app", "feature", "Bug", "Story", "Done", "In Progress", "production", "success", "failure", "x" * 300]
cell = st.lists(st.sampled_from(CELL_PIECES), max_size=3).map("".join) | st.text(max_size=12)
json_scalar = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False) | cell
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(CANONICAL) | st.text(max_size=6), inner, max_size=3), max_leaves=8)


def preset_vocabulary() -> list[str]:
    """String literals of the preset modules (field names, header names, table names), whatever is registered."""
    words: set[str] = set()
    for path in Path(presets_pkg.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and 1 < len(node.value) <= 40 and "\n" not in node.value and "{" not in node.value:
                words.add(node.value)
    return sorted(words)


VOCAB = preset_vocabulary()
key = st.sampled_from(VOCAB + CANONICAL) | st.text(max_size=8)
record = st.dictionaries(key, json_value | st.sampled_from(VOCAB), max_size=8)


def csv_text(header: list[str], rows: list[list[str]], sep: str = ",") -> str:
    def q(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(ch in v for ch in f'{sep}"\n\r') else v
    return "\n".join(sep.join(q(c) for c in r) for r in [header, *rows]) + "\n"


@st.composite
def csv_file(draw, columns: list[str]) -> bytes:
    """Mostly well-formed CSV around the given columns, sometimes raw bytes or broken quoting."""
    kind = draw(st.sampled_from(["structured", "structured", "structured", "raw", "broken"]))
    if kind == "raw":
        return draw(st.binary(max_size=300))
    header = draw(st.lists(st.sampled_from(columns) | st.text(max_size=6), min_size=1, max_size=8))
    rows = draw(st.lists(st.lists(cell, min_size=len(header), max_size=len(header)), max_size=6))
    text = csv_text(header, rows)
    if kind == "broken":
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.sampled_from(['"', '",', "\n", ",,,", "\x00", "\ufeff"])) + text[pos:]
    enc = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(enc, errors="replace")


@st.composite
def json_file(draw, ndjson: bool) -> bytes:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=200))
    records = draw(st.lists(record | json_value, max_size=6))
    if ndjson:
        return "\n".join(json.dumps(r) for r in records).encode()
    doc = draw(st.sampled_from(["list", "envelope", "one"]))
    data = records if doc == "list" else {draw(st.sampled_from(VOCAB + ["items", "data"])): records} if doc == "envelope" else (records[0] if records else {})
    return json.dumps(data).encode()


PARQUET_TYPES = {
    "str": (pl.String, cell),
    "int": (pl.Int64, st.integers(-(2**62), 2**62)),
    "float": (pl.Float64, st.floats()),
    "bool": (pl.Boolean, st.booleans()),
    "date": (pl.Date, st.dates()),
    "naive": (pl.Datetime("us"), st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2200, 1, 1))),
    "utc": (pl.Datetime("us", "UTC"), st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2200, 1, 1))),
    "ms-berlin": (pl.Datetime("ms", "Europe/Berlin"), st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1))),
    "list": (pl.List(pl.String), st.lists(cell, max_size=2)),
    "null": (pl.Null, st.none()),
    "duration": (pl.Duration("us"), st.timedeltas(min_value=dt.timedelta(days=-9999), max_value=dt.timedelta(days=9999))),
}


@st.composite
def parquet_file(draw, columns: list[str]) -> bytes:
    names = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=8, unique=True))
    n = draw(st.integers(0, 5))
    data = {}
    for name in names:
        dtype, values = PARQUET_TYPES[draw(st.sampled_from(sorted(PARQUET_TYPES)))]
        col = draw(st.lists(st.none() | values, min_size=n, max_size=n))
        if dtype == pl.Null:
            col = [None] * n
        if isinstance(dtype, pl.Datetime) and dtype.time_zone:
            col = [None if v is None else v.replace(tzinfo=dt.timezone.utc) for v in col]
        data[name] = pl.Series(name, col, dtype=dtype if not (isinstance(dtype, pl.Datetime) and dtype.time_zone) else pl.Datetime(dtype.time_unit, "UTC")).cast(dtype)
    buf = io.BytesIO()
    pl.DataFrame(data).write_parquet(buf)
    return buf.getvalue()


def run_load(files: dict[str, bytes], source: dict | str, dataset: str, **config_changes) -> None:
    """Write a project with one source and load it; only FlowsiteError may escape."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        config = copy.deepcopy(CONFIG)
        config["sources"] = {dataset: source}
        config.update(config_changes)
        (root / "flowsite.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        for rel, data in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        try:
            load_sources(load_config(root))
        except FlowsiteError as exc:
            text = exc.format()
            assert text and len(text) < 50_000


datasets = st.sampled_from(sorted(DATASETS))
timezones = st.sampled_from(["UTC", "Europe/Berlin", "America/St_Johns", "Pacific/Kiritimati"])

# ---- the fuzz tests -----------------------------------------------------------------------------


@settings(max_examples=budget(120), **FUZZ)
@given(dataset=datasets, data=st.data(), tz=timezones, date_format=st.none() | st.sampled_from(["%d/%m/%Y", "%Y-%m-%d %H:%M", "%s", "%Q", "%"]),
       delimiter=st.sampled_from([",", ";", "\t", "|", "\\t"]))
def test_fuzz_csv(dataset, data, tz, date_format, delimiter):
    content = data.draw(csv_file(list(DATASETS[dataset].columns)))
    if delimiter != ",":
        content = content.replace(b",", delimiter.encode().replace(b"\\t", b"\t"))
    source = {"path": "data/in.csv", "delimiter": delimiter, "timezone": tz}
    if date_format:
        source["date_format"] = date_format
    run_load({"data/in.csv": content}, source, dataset)


@settings(max_examples=budget(100), **FUZZ)
@given(dataset=datasets, ndjson=st.booleans(), data=st.data())
def test_fuzz_json_and_ndjson(dataset, ndjson, data):
    name = "data/in.ndjson" if ndjson else "data/in.json"
    run_load({name: data.draw(json_file(ndjson))}, name, dataset)


@settings(max_examples=budget(80), **FUZZ)
@given(dataset=datasets, data=st.data(), tz=timezones)
def test_fuzz_parquet(dataset, data, tz):
    files = {"data/a.parquet": data.draw(parquet_file(list(DATASETS[dataset].columns)))}
    if data.draw(st.booleans()):  # a glob over two files whose column types may disagree
        files["data/b.parquet"] = data.draw(parquet_file(list(DATASETS[dataset].columns)))
    run_load(files, {"path": "data/*.parquet", "timezone": tz}, dataset)


def registered_presets() -> list[str]:
    presets_pkg.load_builtin()
    return sorted(presets_pkg.PRESETS)


@settings(max_examples=budget(160), **FUZZ)
@given(preset=st.sampled_from(registered_presets()), dataset=datasets, data=st.data())
def test_fuzz_every_registered_preset(preset, dataset, data):
    """Each preset gets a file (CSV, JSON or NDJSON) or a folder of CSV tables built from its own vocabulary."""
    kind = data.draw(st.sampled_from(["csv", "json", "ndjson", "folder"]))
    files: dict[str, bytes] = {}
    if kind == "folder":
        for table in data.draw(st.lists(st.sampled_from([w for w in VOCAB if re.fullmatch(r"[a-z_]+", w)]), min_size=1, max_size=6, unique=True)):
            files[f"data/in/{table}.csv"] = data.draw(csv_file(VOCAB))
        path = "data/in"
    elif kind == "csv":
        files["data/in.csv"] = data.draw(csv_file(VOCAB))
        path = "data/in.csv"
    else:
        path = f"data/in.{kind}"
        files[path] = data.draw(json_file(kind == "ndjson"))
    options = data.draw(st.dictionaries(st.sampled_from(VOCAB), st.sampled_from(VOCAB) | cell, max_size=2))
    source = {"path": path, "format": preset}
    if options:
        source["options"] = options
    run_load(files, source, dataset)


# Config: valid projects with one subtree replaced by something random, and raw YAML-ish text.
yaml_scalar = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10) | st.dates() | st.sampled_from(["", "~", "*", "&a", "!!binary", "month", "UTC"])
yaml_value = st.recursive(yaml_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=3), max_leaves=10)
YAML_PIECES = ["name: x\n", "window: ", "sources:\n", "  work_items: ", "value_streams:\n", "  - id: a\n", "    kpis: [", "]", "{", "}", ": ", "- ", "&a ", "*a", "<<: *a\n",
               "!!python/object:os.system\n", "!!str ", "'", '"', "\\", "\t", "\n", "  ", "#", "---\n", "...\n", "? ", "|\n", ">\n", "%YAML 1.1\n", "\x00", "\ufeff", "é"]


def config_paths(c, prefix=()):
    yield prefix
    if isinstance(c, dict):
        for k, v in c.items():
            yield from config_paths(v, prefix + (k,))
    elif isinstance(c, list):
        for i, v in enumerate(c):
            yield from config_paths(v, prefix + (i,))


PATHS = [p for p in config_paths(CONFIG) if p]


def load_text(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "flowsite.yml"
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", errors="surrogatepass"))
        try:
            load_config(d)
            load_config(d, strict=True)
        except FlowsiteError as exc:
            assert exc.format()


@settings(max_examples=budget(200), **FUZZ)
@given(path=st.sampled_from(PATHS), value=yaml_value, extra=st.dictionaries(st.text(max_size=8), yaml_value, max_size=2))
def test_fuzz_config_values(path, value, extra):
    c = copy.deepcopy(CONFIG)
    target = c
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    if isinstance(target, dict):
        target.update({k: v for k, v in extra.items() if k not in target})
    load_text(yaml.safe_dump(c, allow_unicode=True))


@settings(max_examples=budget(150), **FUZZ)
@given(st.lists(st.sampled_from(YAML_PIECES) | st.text(max_size=6), max_size=25).map("".join) | st.binary(max_size=200))
def test_fuzz_config_text(text):
    load_text(text)


# The whole pipeline (load, normalize, metrics, scorecards) on well-formed files with odd values:
# every row parses, so what is exercised is what comes after the importers.
ts = st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2027, 1, 1)).map(lambda d: d.isoformat() + "Z")
odd_cell = st.one_of(st.none(), ts, st.sampled_from(["shop", "app", "feature", "defect", "risk", "debt", "production", "staging", "success", "failure", "true", "false", "0", "-1", "1e9"]))


@settings(max_examples=budget(25), **FUZZ)
@given(data=st.data(), period=st.sampled_from(["week", "month", "quarter"]), window=st.integers(1, 14), profile=st.sampled_from(["flowsite", "devlake", "fourkeys"]))
def test_fuzz_whole_check_pipeline(data, period, window, profile):
    from flowsite._build import check

    files = {}
    for name, cols in [("work_items", ["id", "type", "value_stream", "created_at", "started_at", "completed_at", "canceled_at", "points"]),
                       ("deployments", ["id", "value_stream", "environment", "result", "started_at", "finished_at", "is_rework"]),
                       ("incidents", ["id", "value_stream", "created_at", "resolved_at", "caused_by_deployment"]),
                       ("changes", ["id", "value_stream", "first_commit_at", "merged_at", "deployed_at", "deployment_id"]),
                       ("kpis", ["value_stream", "kpi", "date", "value"])]:
        n = data.draw(st.integers(0, 6))
        rows = []
        for i in range(n):
            row = [data.draw(odd_cell) or "" for _ in cols]
            if "id" in cols:
                row[cols.index("id")] = f"{name}-{i}"
            rows.append(row)
        files[f"data/{name}.csv"] = csv_text(cols, rows).encode()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        config = copy.deepcopy(CONFIG)
        config.update(period=period, window=window, profile=profile)
        config["sources"]["changes"] = "data/changes.csv"
        (root / "flowsite.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        for rel, content in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
        try:
            check(root)
        except FlowsiteError as exc:
            assert exc.format()
