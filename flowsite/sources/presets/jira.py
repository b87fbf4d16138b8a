"""Jira: the issue navigator's CSV export (`jira-csv`) and REST issues with their changelog (`jira-json`).

One export feeds several datasets; each dataset that names the preset gets its own rows:
- `work_items`: one row per issue (type through `types:`, done/canceled from status category and resolution);
- `status_changes` (`jira-json` only; a CSV has no history): the status at creation, then every transition;
- `incidents`: issues whose type is an incident type (Jira Service Management).

Options: `incident_types` (comma list), `points` (CSV header or REST field id of story points),
`statuses` (file of `GET /rest/api/2/status`: maps status ids to categories for `jira-json`, and lets
`jira-csv` date the start of work from `[CHART] Time in Status`), `changelogs` (`jira-json`: glob of
`/issue/{key}/changelog` pages named by issue key, for changelogs longer than the embedded 100),
`severity` and `services` (`jira-json`: field ids of a JSM incident's severity and affected services),
and for localised CSV headers not built in, the English header as key and yours as value
(e.g. `Created: Erstellt am`).
"""
from __future__ import annotations

import datetime as dt
import glob as globmod
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...config import Config, SourceSpec
from ...errors import Problem, SourceError
from .._model import FILE, ROW, RawFrame
from . import register
from ._common import ValueStreams, build_frame, get, option_list, parse_iso, read_csv_rows, read_json_records, wrong_dataset
from ._jira_locale import CANCELED_RESOLUTIONS, CATEGORIES, FLOW_CATEGORY, TYPES, english_header, fold, parse_date

INCIDENT_TYPES = ("Incident", "[System] Incident", "Incidente", "Vorfall", "Incident majeur", "Инцидент")
POINT_FIELDS = ("Custom field (Story Points)", "Custom field (Story point estimate)")
SEVERITY_FIELDS = ("Custom field (Severity)", "Custom field (Gravedad)", "Custom field (Schweregrad)", "Custom field (Gravité)", "Priority")
SERVICE_FIELDS = ("Custom field (Affected services)", "Custom field (Servicios afectados)", "Custom field (Betroffene Services)", "Custom field (Services affectés)")
HEADER_KEYS = ("Summary", "Issue key", "Issue id", "Issue Type", "Status", "Project key", "Priority", "Resolution", "Created", "Updated", "Resolved", "Status Category", "Status Category Changed", "Labels", "Components", "Sprint", "Parent key")


def flow_type(config: Config, raw: str | None) -> str | None:
    """The tracker type as config knows it: the user's `types:` first, then Jira's translations."""
    if not raw:
        return raw
    if raw.lower() in config.types:
        return raw
    return TYPES.get(fold(raw), raw)


def status_label(config: Config, name: str | None, category_key: str | None) -> str | None:
    """The status name when config maps it, else Jira's category as a flowsite category."""
    if name and name.lower() in config.statuses:
        return name
    if category_key in FLOW_CATEGORY:
        return FLOW_CATEGORY[category_key]
    return name


def _outcome(config: Config, status: str | None, category: str | None, resolution: str | None, resolved: Any, category_changed: Any) -> dict[str, Any]:
    """started_at / completed_at / canceled_at of an issue from its current state."""
    mapped = config.statuses.get((status or "").lower())
    res = (resolution or "").strip()
    canceled = mapped == "canceled" or res.lower() in CANCELED_RESOLUTIONS or config.statuses.get(res.lower()) == "canceled"
    finished = resolved or (category_changed if (category == "done" or mapped in ("done", "canceled")) else None)
    out: dict[str, Any] = {}
    if finished and canceled:
        out["canceled_at"] = finished
    elif finished and (category == "done" or mapped == "done" or resolved):
        out["completed_at"] = finished
    if category == "indeterminate" or mapped in ("active", "waiting"):
        out["started_at"] = category_changed
    return out


# ---------------------------------------------------------------------------------------------- CSV

TIME_IN_STATUS = "Custom field ([CHART] Time in Status)"


def started_from_time_in_status(cell: str | None, finished: str | None, cats: dict[str, str]) -> str | None:
    """Start of work for a finished issue: its finish minus the time spent in in-progress statuses.

    `[CHART] Time in Status` holds `statusId_*:*_timesEntered_*:*_ms` records joined by `_*|*_`,
    by status id, so the categories come from the REST status list. A CSV has no transition times;
    this is the usual estimate (exact unless the issue went back to a to-do status in between).
    """
    if not cell or not finished:
        return None
    ms = 0
    for record in cell.split("_*|*_"):
        parts = record.split("_*:*_")
        if len(parts) == 3 and cats.get(parts[0].strip()) == "indeterminate" and parts[2].strip().isdigit():
            ms += int(parts[2])
    try:
        end = dt.datetime.fromisoformat(finished)
    except ValueError:
        return None
    return (end - dt.timedelta(milliseconds=ms)).isoformat() if ms else None


class _CsvRow:
    """A CSV record by English header; repeated headers (Labels, Sprint, Components) give lists."""

    def __init__(self, header: list[str], cells: list[str]):
        self.values: dict[str, list[str]] = {}
        for h, c in zip(header, cells):
            self.values.setdefault(h, []).append(c.strip())

    def one(self, *names: str) -> str | None:
        for n in names:
            for v in self.values.get(n, []):
                if v:
                    return v
        return None

    def many(self, name: str) -> list[str]:
        return [v for v in self.values.get(name, []) if v]


@register("jira-csv")
def jira_csv(config: Config, spec: SourceSpec) -> RawFrame:
    if spec.dataset not in ("work_items", "incidents"):
        if spec.dataset == "status_changes":
            raise SourceError(problems=[Problem("a Jira CSV export has no status history", key="sources.status_changes.format", hint="export issues through the REST API with expand=changelog and use format: jira-json")])
        raise wrong_dataset(spec, "jira-csv", ("work_items", "incidents"))
    overrides = {k: v for k, v in spec.options.items() if k in HEADER_KEYS or k.startswith("Custom field (")}
    points = option_list(spec, "points", POINT_FIELDS)
    incident_types = {fold(t) for t in option_list(spec, "incident_types", INCIDENT_TYPES)}
    cats = _status_list(config, spec)
    vs = ValueStreams(config, spec)
    rows: list[dict[str, Any]] = []
    for shown, header, body in read_csv_rows(config, spec):
        english = [english_header(h, overrides) for h in header]
        if "Issue key" not in english:
            raise SourceError(problems=[Problem(f"expected a Jira CSV export with an 'Issue key' column, got columns {', '.join(header[:8])}…", file=shown, hint="export with 'Export CSV (all fields)'; for a language not built in, map the header in options, e.g. `Issue key: Vorgang`")])
        for row_no, cells in body:
            r = _CsvRow(english, cells)
            itype = flow_type(config, r.one("Issue Type"))
            if spec.dataset == "incidents" and fold(r.one("Issue Type") or "") not in incident_types and fold(itype or "") not in incident_types:
                continue
            key = r.one("Issue key")
            project = r.one("Project key") or (key.rsplit("-", 1)[0] if key and "-" in key else None)
            value_stream = vs(projects=[project], labels=r.many("Labels") + r.many("Components"), services=[s for f in SERVICE_FIELDS for s in r.many(f)])
            created = parse_date(r.one("Created"))
            resolved = parse_date(r.one("Resolved"))
            row: dict[str, Any] = {FILE: shown, ROW: row_no, "value_stream": value_stream}
            if spec.dataset == "incidents":
                row |= {"id": key, "created_at": created, "resolved_at": resolved, "severity": r.one(*SEVERITY_FIELDS)}
            else:
                category = CATEGORIES.get(fold(r.one("Status Category") or ""))
                row |= {"id": key, "type": itype, "title": r.one("Summary"), "created_at": created, "points": r.one(*points)}
                row |= _outcome(config, r.one("Status"), category, r.one("Resolution"), resolved, parse_date(r.one("Status Category Changed")))
                if "started_at" not in row:
                    row["started_at"] = started_from_time_in_status(r.one(TIME_IN_STATUS), row.get("completed_at"), cats)
            rows.append(row)
    return build_frame(spec, rows, spec.path or "", dedupe="id")


# --------------------------------------------------------------------------------------------- JSON


def _status_list(config: Config, spec: SourceSpec) -> dict[str, str]:
    """Status id -> Jira category key from `options.statuses` (the response of GET /rest/api/2/status)."""
    cats: dict[str, str] = {}
    path = spec.options.get("statuses")
    if path:
        for rec in read_json_records(config, replace(spec, path=path)):
            if rec.data.get("id") is not None and get(rec.data, "statusCategory", "key"):
                cats[str(rec.data["id"])] = rec.data["statusCategory"]["key"]
    return cats


def _status_categories(config: Config, spec: SourceSpec, issues: list) -> dict[str, str]:
    """Status id -> Jira category key, from the issues' own current statuses and the status list."""
    cats: dict[str, str] = {}
    for rec in issues:
        st = get(rec.data, "fields", "status")
        if st and st.get("id") is not None and get(st, "statusCategory", "key"):
            cats[str(st["id"])] = st["statusCategory"]["key"]
    return cats | _status_list(config, spec)


def _extra_changelogs(config: Config, spec: SourceSpec) -> dict[str, list[dict]]:
    """Issue key or id (the file name) -> histories from `/issue/{key}/changelog` pages."""
    pattern = spec.options.get("changelogs")
    if not pattern:
        return {}
    out: dict[str, list[dict]] = {}
    for path in sorted(globmod.glob(str(config.resolve(pattern)), recursive=True)):
        stem = Path(path).stem.split(".")[0]
        sub = replace(spec, path=str(Path(path)))
        out.setdefault(stem, []).extend(r.data for r in read_json_records(config, sub))
    return out


def _transitions(rec_data: dict, extra: dict[str, list[dict]]) -> list[tuple[str, dict]]:
    """(created, status item) for every status change of an issue, oldest first, without duplicates."""
    histories = list(get(rec_data, "changelog", "histories", default=[]))
    histories += extra.get(str(rec_data.get("key")), []) + extra.get(str(rec_data.get("id")), [])
    seen: set = set()
    out = []
    for h in histories:
        for item in h.get("items") or []:
            if item.get("field") == "status" or item.get("fieldId") == "status":
                mark = (h.get("id"), item.get("to"), h.get("created"))
                if mark in seen:
                    continue
                seen.add(mark)
                out.append((h.get("created"), item))
    return sorted(out, key=lambda t: (parse_iso(t[0]) is None, parse_iso(t[0]) or 0))


@register("jira-json")
def jira_json(config: Config, spec: SourceSpec) -> RawFrame:
    if spec.dataset not in ("work_items", "status_changes", "incidents"):
        raise wrong_dataset(spec, "jira-json", ("work_items", "status_changes", "incidents"))
    issues = [r for r in read_json_records(config, spec) if isinstance(r.data.get("fields"), dict) and r.data.get("key")]
    if not issues:
        raise SourceError(problems=[Problem("expected Jira issues (objects with key and fields), found none", file=spec.path, hint="save the response of /rest/api/3/search/jql?fields=*all&expand=changelog (or one issue per line)")])
    # Overlapping pages repeat an issue; the later copy is the newer state.
    issues = list({r.data["key"]: r for r in issues}.values())
    cats = _status_categories(config, spec, issues)
    extra = _extra_changelogs(config, spec)
    points_field = spec.options.get("points")
    # JSM keeps severity and affected services in site-specific custom fields (customfield_NNNNN).
    severity_field, services_field = spec.options.get("severity"), spec.options.get("services")
    incident_types = {fold(t) for t in option_list(spec, "incident_types", INCIDENT_TYPES)}
    vs = ValueStreams(config, spec)
    rows: list[dict[str, Any]] = []
    for rec in issues:
        f = rec.data["fields"]
        key = rec.data["key"]
        raw_type = get(f, "issuetype", "name")
        itype = flow_type(config, raw_type)
        project = get(f, "project", "key") or (key.rsplit("-", 1)[0] if "-" in key else None)
        services = [get(s, "name") or get(s, "value") for s in (f.get(services_field) or [] if services_field else []) if isinstance(s, dict)]
        value_stream = vs(projects=[project], labels=list(f.get("labels") or []) + [c.get("name") for c in f.get("components") or [] if isinstance(c, dict)], services=services)
        base = {FILE: rec.file, ROW: rec.row}
        transitions = _transitions(rec.data, extra)
        if spec.dataset == "status_changes":
            first_from = transitions[0][1] if transitions else None
            initial_id = str(first_from.get("from")) if first_from else str(get(f, "status", "id"))
            initial_name = first_from.get("fromString") if first_from else get(f, "status", "name")
            rows.append(base | {"item_id": key, "status": status_label(config, initial_name, cats.get(initial_id)), "changed_at": f.get("created")})
            for created, item in transitions:
                rows.append(base | {"item_id": key, "status": status_label(config, item.get("toString"), cats.get(str(item.get("to")))), "changed_at": created})
            continue
        if spec.dataset == "incidents":
            if fold(raw_type or "") not in incident_types and fold(itype or "") not in incident_types:
                continue
            severity = (get(f, severity_field, "value") if severity_field else None) or get(f, "priority", "name")
            rows.append(base | {"id": key, "value_stream": value_stream, "created_at": f.get("created"), "resolved_at": f.get("resolutiondate"), "severity": severity})
            continue
        status_id = str(get(f, "status", "id"))
        category = get(f, "status", "statusCategory", "key") or cats.get(status_id)
        row = base | {"id": key, "type": itype, "title": f.get("summary"), "value_stream": value_stream, "created_at": f.get("created"), "points": f.get(points_field) if points_field else None}
        row |= _outcome(config, get(f, "status", "name"), category, get(f, "resolution", "name"), f.get("resolutiondate"), f.get("statuscategorychangedate"))
        # With a changelog, work starts at the first move into an in-progress status.
        for created, item in transitions:
            to_cat = config.statuses.get((item.get("toString") or "").lower()) or FLOW_CATEGORY.get(cats.get(str(item.get("to"))) or "")
            if to_cat in ("active", "waiting"):
                row["started_at"] = created
                break
        rows.append(row)
    return build_frame(spec, rows, spec.path or "")
