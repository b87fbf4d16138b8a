"""Figures for `flowsite metrics`: select rows from the scorecards, format them, judge a --fail-on gate.

Works on the SiteModel that `flowsite._build.check` computes, so no site is written.
"""
from __future__ import annotations

import csv
import difflib
import io
import json
from dataclasses import asdict, dataclass

from . import __version__
from .errors import FlowsiteError, Problem
from .metrics import WINDOW
from .scorecard import SiteModel, Status, format_value, status_of

FORMATS = ("table", "json", "csv")
SCHEMA_VERSION = "flowsite/figures/v1"  # the JSON printed by `flowsite metrics --format json`
# How bad a status is; --fail-on X fails on X or anything worse.
SEVERITY = {Status.ON_TRACK: 0, Status.AT_RISK: 1, Status.OFF_TRACK: 2}
FAIL_ON = ("at-risk", "off-track")


class SelectionError(FlowsiteError):
    """A --value-stream, --metric or --period that the project does not have."""

    kind = "selection error"


@dataclass(frozen=True)
class Row:
    value_stream: str
    metric: str
    name: str
    period: str
    value: float | None
    display: str
    unit: str
    n: int
    target: float | None
    direction: str | None
    status: str
    tier: str | None


def _unknown(kind: str, asked: tuple[str, ...], known: list[str]) -> list[Problem]:
    problems = []
    for a in asked:
        if a not in known:
            close = difflib.get_close_matches(a, known, n=1)
            problems.append(Problem(f"expected a known {kind}, got {a!r}", hint=f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known[:20])}"))
    return problems


def select(model: SiteModel, *, value_streams: tuple[str, ...] = (), metrics: tuple[str, ...] = (), period: str | None = None) -> list[Row]:
    """One row per value stream and figure (headline period, or `period`: a label or `window`)."""
    problems = _unknown("value stream", value_streams, [c.id for c in model.scorecards])
    problems += _unknown("metric", metrics, sorted({f.metric for c in model.scorecards for f in c.figures}))
    problems += _unknown("period", (period,) if period is not None else (), [*model.periods, WINDOW])
    if problems:
        raise SelectionError(problems=problems)
    rows = []
    for card in model.scorecards:
        if value_streams and card.id not in value_streams:
            continue
        for f in card.figures:
            if metrics and f.metric not in metrics:
                continue
            if period is None:
                value, n, label = f.value, f.n, f.period
            elif period == WINDOW:
                value, n, label = f.window_value, f.window_n, WINDOW
            else:
                point = next(p for p in f.trend if p.period == period)
                value, n, label = point.value, point.n, period
            status = status_of(value, f.target, f.at_risk, f.direction)
            rows.append(Row(card.id, f.metric, f.name, label, value, format_value(value, f.unit, f.decimals), f.unit, n, f.target, f.direction, status.value, f.tier))
    return rows


def failing(rows: list[Row], fail_on: str) -> list[Row]:
    """Rows whose status is `fail_on` or worse (rows without a target or data never fail)."""
    limit = SEVERITY[Status(fail_on)]
    return [r for r in rows if Status(r.status) in SEVERITY and SEVERITY[Status(r.status)] >= limit]


def render(rows: list[Row], fmt: str, model: SiteModel) -> str:
    if fmt == "json":
        meta = {"schema_version": SCHEMA_VERSION, "flowsite_version": __version__, "project": model.name, "as_of": model.as_of.isoformat(),
                "period": model.period, "periods": list(model.periods), "profile": model.profile, "benchmark": model.benchmark_id}
        doc = {"metadata": meta, "figures": [asdict(r) for r in rows]}
        return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False)
    if fmt == "csv":
        buf = io.StringIO()
        fields = list(Row.__dataclass_fields__)
        w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in asdict(r).items()})
        return buf.getvalue().rstrip("\n")
    head = ("value stream", "metric", "period", "value", "n", "target", "status")
    body = [(r.value_stream, r.metric, r.period, r.display, str(r.n), format_value(r.target, r.unit, 2) if r.target is not None else "—",
             f"{Status(r.status).icon} {Status(r.status).label}") for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in (head, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
