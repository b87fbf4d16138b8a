"""Metrics: pure polars functions from canonical datasets to one long `figures` frame.

`figures` has one row per (value_stream, metric, period) with `value` (null = no data) and `n`;
`period` is a period label or "window" for the whole window.
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

import polars as pl

from .. import plugins
from ..config import Config
from ..errors import Problem, SourceError
from . import culture, dora, flow, kpis, vsm
from ._frame import empty_figures, stream_blocks
from .catalogue import CATALOGUE, GROUPS, MetricDef, metric_def, use_metrics
from .periods import WINDOW, Period, build_periods
from .tiers import BENCHMARKS, BenchmarkSet, custom_set, figures_needed, tier

__all__ = ["MetricResults", "compute_metrics", "CATALOGUE", "GROUPS", "MetricDef", "metric_def", "WINDOW", "Period"]


@dataclass
class MetricResults:
    figures: pl.DataFrame
    periods: list[Period]
    as_of: dt.date
    value_streams: list[str]
    benchmark: BenchmarkSet
    profile: str
    drilldown: dict[str, pl.DataFrame] = field(default_factory=dict)
    exclusions: dict[str, dict[str, int]] = field(default_factory=dict)
    maps: dict[str, vsm.ValueStreamMap] = field(default_factory=dict)
    daily_wip: pl.DataFrame | None = None
    data_start: dict[str, dt.datetime] = field(default_factory=dict)  # first timestamp per dataset
    stream_start: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)  # (dataset, value stream) -> first timestamp

    def history_start(self, dataset: str, value_stream: str | None = None) -> dt.datetime | None:
        """When a dataset's history starts, for one value stream where known."""
        if value_stream is not None and (dataset, value_stream) in self.stream_start:
            return self.stream_start[(dataset, value_stream)]
        return self.data_start.get(dataset)

    def _by_stream(self) -> tuple[dict[str | None, pl.DataFrame], dict[str, dict]]:
        """Per value stream its rows of `figures` (slices when the frame is in value stream blocks,
        as `compute_metrics` sorts it) and, once asked for, its figures by (metric, period): made
        once, kept while `figures` is the same frame."""
        cached = self.__dict__.get("_slices")
        if cached is None or cached[0] is not self.figures:
            f = self.figures
            blocks = stream_blocks(f)
            if len({vs for vs, _, _ in blocks}) == len(blocks):
                slices = {vs: f.slice(start, n) for vs, start, n in blocks}
            else:
                slices = {k[0]: part for k, part in f.partition_by("value_stream", maintain_order=True, as_dict=True).items()}
            cached = self.__dict__["_slices"] = (f, slices, {})
        return cached[1], cached[2]

    def stream_figures(self, value_stream: str) -> pl.DataFrame:
        """The rows of `figures` of one value stream, in their order."""
        got = self._by_stream()[0].get(value_stream)
        return got if got is not None else self.figures.clear()

    def value(self, value_stream: str, metric: str, period: str) -> tuple[float | None, int]:
        # Scorecards ask for thousands of figures; filtering the frame for each was most of their time.
        indexes = self._by_stream()[1]
        index = indexes.get(value_stream)
        if index is None:
            index = indexes[value_stream] = {}
            for m, p, v, n in self.stream_figures(value_stream).select("metric", "period", "value", "n").iter_rows():
                index.setdefault((m, p), (v, int(n or 0)))
        return index.get((metric, period), (None, 0))

    def tier(self, value_stream: str, metric: str, period: str = WINDOW) -> str | None:
        v, _ = self.value(value_stream, metric, period)
        rules = self.benchmark.rules.get(metric)
        others = {f: self.value(value_stream, f, period)[0] for f in figures_needed(rules)}
        return tier(v, rules, others)


def infer_as_of(frames: dict[str, pl.DataFrame], timezone: str) -> dt.date:
    """The newest timestamp in any dataset, as a local date; today when there is no data."""
    latest = None
    for df in frames.values():
        for c, dtype in df.schema.items():
            if isinstance(dtype, pl.Datetime):
                m = df.get_column(c).max()
                if m is not None and (latest is None or m > latest):
                    latest = m
    if latest is None:
        return dt.datetime.now(dt.timezone.utc).astimezone(zoneinfo.ZoneInfo(timezone)).date()
    return latest.astimezone(zoneinfo.ZoneInfo(timezone)).date()


@dataclass
class StreamParts:
    """What the per-value-stream metric modules return, for the value streams they were given: each
    stream's figures, drill-down rows, daily WIP and excluded-row counts depend on its own rows only,
    which is what lets an incremental build recompute a few value streams and keep the others."""

    figures: pl.DataFrame
    drilldown: dict[str, pl.DataFrame]
    exclusions: dict[str, dict[str, int]]  # metric -> reason -> count (a _counts.Count: split per value stream)
    daily_wip: pl.DataFrame | None
    # The family that made each part: "figures:<metric>", "drill:<name>", "excl:<metric>", "wip".
    owner: dict[str, str] = field(default_factory=dict)


# The metric families and the datasets each reads (and nothing else): a value stream whose flow data
# changed while its deployments did not needs its flow figures computed again, not its DORA ones.
FAMILIES: dict[str, tuple[str, ...]] = {
    "delivery": ("deployments", "changes", "incidents"),
    "flow": ("work_items", "status_changes"),
    "culture": ("survey_responses",),
    "kpis": ("kpis",),
}

SIDE_BY_SIDE_ROWS = 5_000_000  # rows of all datasets up to which DORA and flow are computed in two threads


def compute_streams(config: Config, clipped: dict[str, pl.DataFrame], periods: list[Period], vs_ids: list[str], as_of_end: dt.datetime,
                    families: frozenset[str] | set[str] | None = None) -> StreamParts:
    """DORA (under the configured profile), flow, culture and KPI figures of `vs_ids`; with
    `families`, of those families only (see FAMILIES)."""
    tz = config.timezone
    wanted = set(FAMILIES) if families is None else set(families)
    parts = [empty_figures()]
    drill: dict[str, pl.DataFrame] = {}
    excl: dict[str, dict[str, int]] = {}
    owner: dict[str, str] = {}

    def add(family: str, f: pl.DataFrame | None, d: dict | None = None, e: dict | None = None) -> None:
        if f is not None:
            parts.append(f)
            owner.update((f"figures:{m}", family) for m in f.get_column("metric").unique().to_list())
        for name, df in (d or {}).items():
            drill[name] = df
            owner[f"drill:{name}"] = family
        for metric, reasons in (e or {}).items():
            excl[metric] = reasons
            owner[f"excl:{metric}"] = family

    def delivery() -> tuple[pl.DataFrame, dict[str, pl.DataFrame], dict[str, dict[str, int]]]:
        if config.profile == "flowsite":
            return dora.compute(clipped, periods, config.period, tz, config.environments, config.incident_window_hours, vs_ids, as_of_end)
        from . import profiles

        return profiles.compute(config.profile, clipped, periods, config, vs_ids, as_of_end)

    def flowing():
        return flow.compute(clipped, periods, config.period, tz, as_of_end)

    delivered = flowed = None
    if {"delivery", "flow"} <= wanted and sum(df.height for df in clipped.values()) <= SIDE_BY_SIDE_ROWS:
        # Small frames (a few value streams of an incremental build): each polars call is mostly
        # fixed cost, little of it parallel; the DORA and flow families then run side by side.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowsite-dora") as pool:
            job = pool.submit(delivery)
            flowed = flowing()
            delivered = job.result()
    else:
        # Large frames: polars already keeps every core busy, and two families at once would
        # hold both families' intermediate frames in memory together.
        delivered = delivery() if "delivery" in wanted else None
        flowed = flowing() if "flow" in wanted else None
    if delivered is not None:
        add("delivery", *delivered)
    wip = None
    if flowed is not None:
        f, d, e, wip = flowed
        add("flow", f, d, e)
        if wip is not None:
            owner["wip"] = "flow"
    if "culture" in wanted:
        f, e = culture.compute(clipped, periods, config.period, tz)
        add("culture", f, None, e)
    if "kpis" in wanted:
        add("kpis", kpis.compute(clipped, periods, config.period, tz))
    return StreamParts(pl.concat(parts, how="vertical_relaxed"), drill, excl, wip, owner)


def compute_metrics(config: Config, frames: dict[str, pl.DataFrame], *, streams=None) -> MetricResults:
    """Every figure of the build. With `streams` (an incremental.StreamCache), the per-value-stream
    part is computed for the value streams whose data changed only and merged with the cached rest."""
    # Built-in, plugin and metrics-as-code definitions all come through the register_metrics hook.
    use_metrics(plugins.metric_definitions(config))
    tz = config.timezone
    as_of = config.as_of or infer_as_of(frames, tz)
    periods = build_periods(as_of, config.period, config.window, tz)
    as_of_end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), zoneinfo.ZoneInfo(tz)).astimezone(dt.timezone.utc)
    # Data after as_of does not exist for this build.
    clipped = {name: _clip(df, as_of_end) for name, df in frames.items()}
    vs_ids = [v.id for v in config.value_streams] or sorted({v for df in clipped.values() if "value_stream" in df.columns for v in df.get_column("value_stream").drop_nulls().unique().to_list()})

    def compute(subset: dict[str, pl.DataFrame], ids: list[str], families: frozenset[str] | None = None) -> StreamParts:
        return compute_streams(config, subset, periods, ids, as_of_end, families)

    # polars' streaming engine sums floats in morsels whose bounds depend on the whole frame, so a
    # value stream's figures could differ in the last bit with other value streams' rows around; the
    # in-memory engine aggregates each group in row order: the figures of a value stream are then a
    # function of its own rows, as an incremental build (and reproducibility) needs.
    with pl.Config(engine_affinity="in-memory"):
        core = streams.metrics(frames, clipped, periods, as_of_end, vs_ids, compute) if streams is not None else compute(clipped, vs_ids)
    parts = [empty_figures(), core.figures]
    drill = core.drilldown
    excl = {m: {r: int(c) for r, c in reasons.items()} for m, reasons in core.exclusions.items()}
    wip = core.daily_wip

    maps: dict[str, vsm.ValueStreamMap] = {}
    problems: list[Problem] = []
    map_rows = []
    for v in config.value_streams:
        if not v.map:
            continue
        path = config.resolve(v.map)
        if not path.is_file():
            problems.append(Problem("value stream map file not found", file=v.map, key=f"value_streams[{v.id}].map", hint="paths are relative to the project folder"))
            continue
        try:
            m = vsm.load_map(path, v.map)
        except SourceError as exc:
            problems.extend(exc.problems)
            continue
        maps[v.id] = m
        n = len(m.steps)
        for metric, value in (("vsm_lead_time", m.total_lead_hours), ("vsm_process_time", m.total_process_hours), ("vsm_activity_ratio", m.activity_ratio), ("vsm_rolled_pca", m.rolled_pca)):
            map_rows.append({"value_stream": v.id, "metric": metric, "period": WINDOW, "value": value, "n": n})
    if problems:
        raise SourceError("aborted: invalid value stream map(s)", problems=problems)
    if map_rows:
        parts.append(pl.DataFrame(map_rows, schema=empty_figures().schema))

    parts.extend(f.cast(empty_figures().schema) for f in plugins.figures(config, clipped, periods, set(CATALOGUE)))
    figures = pl.concat(parts, how="vertical_relaxed")
    figures = figures.filter(pl.col("value_stream").is_in(vs_ids)).sort("value_stream", "metric", "period")
    if config.benchmark == "custom":
        bench = custom_set(config.benchmark_thresholds, {m.id: m.direction or "higher" for m in CATALOGUE.values()})
    else:
        bench = BENCHMARKS[config.benchmark]
    starts = {}
    for name, df in clipped.items():
        main = [c for c, t in df.schema.items() if isinstance(t, pl.Datetime)]
        if main and df.height:
            starts[name] = df.get_column(main[0]).min()
    firsts = streams.first_timestamps(clipped, first_timestamps) if streams is not None else first_timestamps(clipped)
    stream_starts = {(name, v): first for name, df in firsts.items() for v, first in df.iter_rows()}
    return MetricResults(figures=figures, periods=periods, as_of=as_of, value_streams=vs_ids, benchmark=bench, profile=config.profile,
                         drilldown=drill, exclusions=excl, maps=maps, daily_wip=wip, data_start=starts, stream_start=stream_starts)


def first_timestamps(clipped: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Per dataset of value streams, each value stream's first timestamp (value_stream, first)."""
    out = {}
    for name, df in clipped.items():
        main = [c for c, t in df.schema.items() if isinstance(t, pl.Datetime)]
        if main and df.height and "value_stream" in df.columns:
            out[name] = df.group_by("value_stream").agg(pl.col(main[0]).min().alias("first")).drop_nulls()
    return out


def _clip(df: pl.DataFrame, as_of_end: dt.datetime) -> pl.DataFrame:
    """Drop rows whose defining timestamp is after the end of as_of (a build shows the past as it was)."""
    first_ts = {"work_items": "created_at", "status_changes": "changed_at", "deployments": "finished_at", "changes": "first_commit_at", "incidents": "created_at", "survey_responses": "submitted_at", "kpis": "date"}
    # Frames with nothing to clip are passed on as they are: a copy of 10M rows costs memory and time.
    for col in first_ts.values():
        if col in df.columns:
            s = df.get_column(col)
            if s.null_count() or (s.max() is not None and s.max() >= as_of_end):
                df = df.filter(pl.col(col) < as_of_end)
            break
    # Later events (completion, resolution) that happen after as_of are not known yet.
    for col in ("completed_at", "canceled_at", "resolved_at", "deployed_at", "merged_at", "started_at"):
        if col in df.columns:
            latest = df.get_column(col).max()
            if latest is not None and latest >= as_of_end:
                df = df.with_columns(pl.when(pl.col(col) < as_of_end).then(pl.col(col)).alias(col))
    return df
