"""The scorecard model: frozen dataclasses that templates, JSON and the CLI read.

Built from MetricResults and the config; no I/O. A figure's headline is the latest period of the
window (falling back to the latest period that has data, which is then named), with its trend.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable, NamedTuple

import polars as pl

from .config import Config
from .metrics import CATALOGUE, GROUPS, WINDOW, MetricDef, MetricResults, metric_def
from .metrics.catalogue import profile_rules
from .metrics.culture import band
from .metrics.vsm import ValueStreamMap

SMALL_N = 5


class Status(StrEnum):
    ON_TRACK = "on-track"
    AT_RISK = "at-risk"
    OFF_TRACK = "off-track"
    NO_TARGET = "no-target"
    NO_DATA = "no-data"

    @property
    def label(self) -> str:
        return {"on-track": "On track", "at-risk": "At risk", "off-track": "Off track", "no-target": "No target", "no-data": "No data"}[self.value]

    @property
    def icon(self) -> str:
        return {"on-track": "✔", "at-risk": "▲", "off-track": "✖", "no-target": "–", "no-data": "∅"}[self.value]


class Point(NamedTuple):
    """One period of a figure's trend. A named tuple rather than a dataclass: a scorecard holds a
    few hundred, and the incremental build reads hundreds of scorecards back from its cache
    (a tuple is made back from a pickle in half the time)."""

    period: str
    value: float | None
    n: int


@dataclass(frozen=True)
class Figure:
    metric: str
    name: str
    group: str
    unit: str
    decimals: int
    direction: str | None
    value: float | None
    n: int
    period: str
    target: float | None
    at_risk: float | None
    status: Status
    tier: str | None
    trend: tuple[Point, ...]
    delta: float | None
    window_value: float | None
    window_n: int
    warnings: tuple[str, ...] = ()
    headline: bool = True
    note: str | None = None  # e.g. the Westrum band

    @property
    def display(self) -> str:
        return format_value(self.value, self.unit, self.decimals)

    @property
    def target_display(self) -> str:
        return format_value(self.target, self.unit, self.decimals) if self.target is not None else "—"

    @property
    def arrow(self) -> str | None:
        """'up', 'down' or 'flat' compared with the previous period."""
        if self.delta is None:
            return None
        if abs(self.delta) < 1e-9:
            return "flat"
        return "up" if self.delta > 0 else "down"

    @property
    def improving(self) -> bool | None:
        if self.delta is None or self.direction is None or abs(self.delta) < 1e-9:
            return None
        return (self.delta > 0) == (self.direction == "higher")


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    figures: tuple[Figure, ...]


@dataclass(frozen=True)
class Alignment:
    on_track: int
    at_risk: int
    off_track: int
    no_target: int

    @property
    def with_target(self) -> int:
        return self.on_track + self.at_risk + self.off_track

    @property
    def status(self) -> Status:
        if not self.with_target:
            return Status.NO_TARGET
        if self.off_track:
            return Status.OFF_TRACK if self.off_track * 3 >= self.with_target else Status.AT_RISK
        return Status.AT_RISK if self.at_risk else Status.ON_TRACK


@dataclass(frozen=True)
class Scorecard:
    id: str
    name: str
    description: str
    owners: tuple[str, ...]
    sections: tuple[Section, ...]
    alignment: Alignment
    tier: str | None  # overall DORA tier: the lowest of the tiered metrics that have data
    investment: dict[str, float]
    map: ValueStreamMap | None
    kpi_ids: tuple[str, ...] = ()

    def figure(self, metric: str) -> Figure | None:
        for s in self.sections:
            for f in s.figures:
                if f.metric == metric:
                    return f
        return None

    @property
    def figures(self) -> list[Figure]:
        return [f for s in self.sections for f in s.figures]

    @property
    def headline_figures(self) -> list[Figure]:
        wanted = ("flow_time", "flow_velocity", "deployment_frequency", "lead_time", "change_failure_rate", "westrum")
        return [f for m in wanted if (f := self.figure(m)) is not None]


@dataclass(frozen=True)
class SiteModel:
    name: str
    title: str
    description: str
    period: str
    periods: tuple[str, ...]
    as_of: dt.date
    profile: str
    benchmark_id: str
    benchmark_title: str
    benchmark_source: str
    scorecards: tuple[Scorecard, ...]
    metrics: tuple[MetricDef, ...]
    totals: dict[str, float | int | None] = field(default_factory=dict)
    profile_rules: dict[str, str] = field(default_factory=dict)  # metric id -> the profile's rule for it

    def scorecard(self, vs_id: str) -> Scorecard | None:
        return next((s for s in self.scorecards if s.id == vs_id), None)


def format_value(value: float | None, unit: str, decimals: int = 1) -> str:
    if value is None:
        return "no data"
    if unit == "%":
        return f"{value:.{decimals}f}%"
    if unit == "hours" and abs(value) >= 72:
        return f"{value / 24:.1f} days"
    if unit == "hours" and abs(value) < 1:
        return f"{value * 60:.0f} min"
    text = f"{value:,.{decimals}f}"
    return f"{text} {unit}".strip() if unit else text


def status_of(value: float | None, target: float | None, at_risk: float | None, direction: str | None) -> Status:
    if value is None:
        return Status.NO_DATA
    if target is None or direction is None:
        return Status.NO_TARGET
    if at_risk is None:
        at_risk = target * (0.9 if direction == "higher" else 1.1) if target else target
    if direction == "higher":
        return Status.ON_TRACK if value >= target else Status.AT_RISK if value >= at_risk else Status.OFF_TRACK
    return Status.ON_TRACK if value <= target else Status.AT_RISK if value <= at_risk else Status.OFF_TRACK


def _series(figures: pl.DataFrame) -> dict[str, dict[str, tuple[float | None, int]]]:
    """One value stream's figures: metric -> period -> (value, n), metrics in the order of their rows."""
    out: dict[str, dict[str, tuple[float | None, int]]] = {}
    for metric, period, value, n in figures.select("metric", "period", "value", "n").iter_rows():
        out.setdefault(metric, {})[period] = (value, int(n or 0))
    return out


def build_scorecards(config: Config, results: MetricResults, reuse: Callable[[str, Callable[[], Scorecard]], Scorecard] | None = None) -> SiteModel:
    """`reuse(value stream, make)`: its scorecard (the incremental build keeps the last build's
    while everything it is made from is the same), else `make()`."""
    labels = [p.label for p in results.periods]
    # The value streams by id, looked up once (a scan of the config's list per figure grew with their product).
    streams: dict = {}
    for v in config.value_streams:
        streams.setdefault(v.id, v)
    cards = []
    for vs_id in results.value_streams:
        def make(vs_id: str = vs_id) -> Scorecard:
            return _scorecard(config, results, vs_id, streams.get(vs_id), labels)
        cards.append(make() if reuse is None else reuse(vs_id, make))
    present = sorted(set(results.figures.get_column("metric").to_list()), key=lambda m: list(CATALOGUE).index(m) if m in CATALOGUE else 999)
    metrics = tuple(CATALOGUE[m] for m in present if m in CATALOGUE and CATALOGUE[m].parent is None)
    totals = _totals(results, labels[-1])
    b = results.benchmark
    return SiteModel(name=config.name, title=config.title, description=config.description, period=config.period, periods=tuple(labels),
                     as_of=results.as_of, profile=results.profile, benchmark_id=b.id, benchmark_title=b.title, benchmark_source=b.source,
                     scorecards=tuple(cards), metrics=metrics, totals=totals, profile_rules=profile_rules(results.profile))


def _scorecard(config: Config, results: MetricResults, vs_id: str, vs, labels: list[str]) -> Scorecard:
    """One value stream's scorecard: from its rows of the figures, its config and the results' periods, starts and maps."""
    series = _series(results.stream_figures(vs_id))
    kpi_defs = {f"kpi.{k.id}": k for k in (vs.kpis if vs else ())}
    metric_ids = list(series)
    for k in kpi_defs:
        if k not in metric_ids:
            metric_ids.append(k)
    figures: dict[str, list[Figure]] = {g: [] for g, _ in GROUPS}
    for metric in _ordered(metric_ids, list(kpi_defs)):
        kd = kpi_defs.get(metric)
        mdef = metric_def(metric, kd.name, kd.unit, kd.direction, kd.description) if kd else metric_def(metric)
        figures[mdef.group].append(_figure(config, results, vs_id, mdef, series.get(metric, {}), labels, kd, vs))
    sections = tuple(Section(g, title, tuple(figures[g])) for g, title in GROUPS)
    counted = [f for sec in sections for f in sec.figures if f.headline or f.group == "outcomes"]
    align = Alignment(
        on_track=sum(f.status is Status.ON_TRACK for f in counted),
        at_risk=sum(f.status is Status.AT_RISK for f in counted),
        off_track=sum(f.status is Status.OFF_TRACK for f in counted),
        no_target=sum(f.status is Status.NO_TARGET for f in counted),
    )
    tiers = [f.tier for sec in sections for f in sec.figures if f.tier]
    order = ("elite", "high", "medium", "low")
    overall = max(tiers, key=order.index) if tiers else None
    return Scorecard(
        id=vs_id, name=vs.name if vs else vs_id, description=vs.description if vs else "", owners=vs.owners if vs else (),
        sections=sections, alignment=align, tier=overall, investment=dict(vs.investment) if vs else {}, map=results.maps.get(vs_id),
        kpi_ids=tuple(kpi_defs),
    )


def _ordered(metric_ids: list[str], kpis: list[str]) -> list[str]:
    cat = list(CATALOGUE)
    return kpis + sorted((m for m in metric_ids if m not in kpis), key=lambda m: (cat.index(m) if m in cat else 999, m))


def _figure(config: Config, results: MetricResults, vs_id: str, mdef: MetricDef, s: dict, labels: list[str], kd, vs=None) -> Figure:
    trend = tuple(Point(p, *s.get(p, (None, 0))) for p in labels)
    wv, wn = s.get(WINDOW, (None, 0))
    if mdef.group == "vsm":
        value, n, period = wv, wn, WINDOW
    else:
        latest = next((pt for pt in reversed(trend) if pt.value is not None), None)
        value, n, period = (latest.value, latest.n, latest.period) if latest else (None, 0, labels[-1])
    idx = labels.index(period) if period in labels else None
    prev = next((pt.value for pt in reversed(trend[:idx]) if pt.value is not None), None) if idx else None
    delta = value - prev if value is not None and prev is not None else None
    if kd is not None:
        target, at_risk, direction = kd.target, kd.at_risk, kd.direction
    else:
        t = vs.targets[mdef.id] if vs is not None and mdef.id in vs.targets else config.targets.get(mdef.id)  # config.target_for, without its scan
        target, at_risk, direction = (t.target, t.at_risk, t.direction or mdef.direction) if t else (None, None, mdef.direction)
    warnings = []
    if value is not None and n < SMALL_N and mdef.group not in ("vsm", "outcomes"):
        warnings.append(f"small sample: n = {n}")
    if value is not None and period != labels[-1] and mdef.group != "vsm":
        warnings.append(f"no data for {labels[-1]}; showing {period}")
    for ds in mdef.datasets:
        start = results.history_start(ds, vs_id)
        if start is not None and results.periods and start > results.periods[0].start:
            warnings.append(f"history starts {start.date().isoformat()}, after the window start")
            break
    tier = results.tier(vs_id, mdef.id) if mdef.tiered else None
    note = f"{band(value)} (flowsite band)" if mdef.id == "westrum" and value is not None else None
    return Figure(
        metric=mdef.id, name=mdef.name, group=mdef.group, unit=mdef.unit, decimals=mdef.decimals, direction=direction,
        value=value, n=n, period=period, target=target, at_risk=at_risk, status=status_of(value, target, at_risk, direction),
        tier=tier, trend=trend, delta=delta, window_value=wv, window_n=wn, warnings=tuple(warnings), headline=mdef.headline, note=note,
    )


def _totals(results: MetricResults, last: str) -> dict[str, float | int | None]:
    f = results.figures
    def total(metric: str, period: str) -> int | None:
        rows = f.filter((pl.col("metric") == metric) & (pl.col("period") == period))
        return int(rows.get_column("n").sum()) if rows.height else None
    return {
        "value_streams": len(results.value_streams),
        "deployments": total("deployment_frequency", last),
        "items_completed": total("flow_velocity", last),
        "deployments_window": total("deployment_frequency", WINDOW),
        "items_completed_window": total("flow_velocity", WINDOW),
    }
