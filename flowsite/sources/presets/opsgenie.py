"""Opsgenie incidents (`format: opsgenie`) from `GET /v1/incidents` (the `data` list, or one per line).

The impact window is the outage: created at `impactStartDate` (else `createdAt`), resolved at
`impactEndDate`, else at `updatedAt` once the incident is resolved or closed. Priority (P1–P5) is
the severity. The value stream comes from `impactedServices`, `ownerTeam` (match `services`) and
`tags` (match `labels`). Fractional seconds of any length are accepted.
"""
from __future__ import annotations

from ...config import Config, SourceSpec
from ...errors import Problem, SourceError
from .._model import FILE, ROW, RawFrame
from . import register
from ._common import ValueStreams, build_frame, get, read_json_records, wrong_dataset


@register("opsgenie")
def opsgenie(config: Config, spec: SourceSpec) -> RawFrame:
    if spec.dataset != "incidents":
        raise wrong_dataset(spec, "opsgenie", ("incidents",))
    vs = ValueStreams(config, spec)
    rows = []
    for rec in read_json_records(config, spec):
        d = rec.data
        if not (d.get("createdAt") or d.get("impactStartDate")):
            continue
        status = str(d.get("status") or "").lower()
        resolved = d.get("impactEndDate") or (d.get("updatedAt") if status in ("resolved", "closed") else None)
        services = [s if isinstance(s, str) else get(s, "name") for s in d.get("impactedServices") or []] + [d.get("ownerTeam")]
        rows.append({FILE: rec.file, ROW: rec.row, "id": str(d.get("id") or d.get("tinyId")), "value_stream": vs(services=services, labels=d.get("tags") or []), "created_at": d.get("impactStartDate") or d.get("createdAt"), "resolved_at": resolved, "severity": d.get("priority")})
    if not rows:
        raise SourceError(problems=[Problem("expected Opsgenie incidents (objects with createdAt), found none", file=spec.path, hint="save the `data` of GET /v1/incidents")])
    return build_frame(spec, rows, spec.path or "", dedupe="id")
