"""PagerDuty incidents (`format: pagerduty`): REST `/incidents`, Analytics raw incidents, or a UI CSV.

- REST v2 (`GET /incidents`, optionally with `log_entries` attached): created at `created_at`, resolved
  at `resolved_at`, else at the `resolve_log_entry`, else at `last_status_change_at` when resolved.
- Analytics (`POST /analytics/raw/incidents`) and the UI's CSV download: flat rows with
  `created_at`/`created_on`, `resolved_at`/`resolved_on`, `service_name`, `priority_name`, `urgency`.
  Their times carry no offset: they are in the time zone the report was requested in (source `timezone`).

Severity is the priority (P1…) when set, else the urgency. The value stream comes from the service
(or team) through `value_streams[].match.services`.
"""
from __future__ import annotations

from typing import Any

from ...config import Config, SourceSpec
from ...errors import Problem, SourceError
from .._model import FILE, ROW, RawFrame
from . import register
from ._common import Record, ValueStreams, build_frame, get, read_csv_rows, read_json_records, wrong_dataset


def _records(config: Config, spec: SourceSpec) -> list[Record]:
    if (spec.path or "").lower().endswith(".csv"):
        out = []
        for shown, header, body in read_csv_rows(config, spec):
            keys = [h.strip().lower().replace(" ", "_") for h in header]
            out.extend(Record(shown, row, dict(zip(keys, cells))) for row, cells in body)
        return out
    return read_json_records(config, spec)


def _resolved(d: dict[str, Any]) -> str | None:
    if d.get("resolved_at") or d.get("resolved_on"):
        return d.get("resolved_at") or d.get("resolved_on")
    entries = d.get("log_entries") or []
    resolve = [e.get("created_at") for e in entries if isinstance(e, dict) and e.get("type") in ("resolve_log_entry", "resolve_log_entry_reference")]
    if resolve:
        return min(resolve)
    if d.get("status") == "resolved":
        return d.get("last_status_change_at")
    return None


@register("pagerduty")
def pagerduty(config: Config, spec: SourceSpec) -> RawFrame:
    if spec.dataset != "incidents":
        raise wrong_dataset(spec, "pagerduty", ("incidents",))
    vs = ValueStreams(config, spec)
    rows = []
    for rec in _records(config, spec):
        d = rec.data
        if d.get("type") not in (None, "incident") or not (d.get("created_at") or d.get("created_on")):
            continue  # log entries or other objects saved alongside
        services = [get(d, "service", "summary"), get(d, "service", "id"), d.get("service_name"), d.get("service_id")]
        teams = [get(t, "summary") for t in d.get("teams") or [] if isinstance(t, dict)] + [d.get("team_name")]
        severity = get(d, "priority", "summary") or d.get("priority_name") or d.get("urgency")
        rows.append({FILE: rec.file, ROW: rec.row, "id": str(d.get("id") or d.get("incident_number")), "value_stream": vs(services=services + teams), "created_at": d.get("created_at") or d.get("created_on"), "resolved_at": _resolved(d), "severity": severity})
    if not rows:
        raise SourceError(problems=[Problem("expected PagerDuty incidents (objects with id and created_at), found none", file=spec.path, hint="save the response of GET /incidents or POST /analytics/raw/incidents")])
    return build_frame(spec, rows, spec.path or "", dedupe="id")
