"""The Flow Framework's five metrics (Kersten, Project to Product): velocity, time, efficiency, load, distribution."""
from __future__ import annotations

import datetime as dt

import polars as pl

from ._frame import empty_figures, summarise, to_long
from .periods import WINDOW, Period, date_label
from .stats import median_expr, quantile_expr

DAY = 86_400_000_000  # microseconds
TYPES = ("feature", "defect", "risk", "debt")


def item_timeline(work_items: pl.DataFrame, status_changes: pl.DataFrame | None) -> pl.DataFrame:
    """One row per item: start, done_at, canceled_at, active and waiting days.

    With status history, an item starts at its first waiting/active status and is done at the start
    of its final run of done statuses (a reopened item is done when it is done for the last time).
    Without it, started_at (or created_at) and completed_at are used.
    """
    items = work_items
    cols = items.columns
    started = pl.col("started_at") if "started_at" in cols else pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    completed = pl.col("completed_at") if "completed_at" in cols else pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    canceled = pl.col("canceled_at") if "canceled_at" in cols else pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    items = items.with_columns(started.alias("_started"), completed.alias("_completed"), canceled.alias("_canceled"))
    if status_changes is None or status_changes.height == 0:
        return items.with_columns(
            pl.coalesce("_started", "created_at").alias("start"),
            pl.col("_completed").alias("done_at"),
            pl.when(pl.col("_completed").is_null()).then(pl.col("_canceled")).alias("canceled_at_"),
            pl.lit(None, dtype=pl.Float64).alias("active_days"),
            pl.lit(None, dtype=pl.Float64).alias("wait_days"),
        ).drop("_started", "_completed", "_canceled").rename({"canceled_at_": "end_canceled"})

    # Items keyed by their row number: sorting and grouping millions of status changes by a u32 is
    # several times faster than by the id text, and once sorted, the next change of the same item is
    # a plain shift. Changes of items not in work_items are dropped here (the final join dropped them).
    items = items.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"))
    sc = (
        status_changes.filter(pl.col("category").is_not_null())
        .select(pl.col("item_id").alias("_id"), "changed_at", "category")
        .join(items.select(pl.col("id").alias("_id"), pl.col("_row").alias("item_id")), on="_id", how="inner")
        .select("item_id", "changed_at", "category")
        .sort("item_id", "changed_at")
    )
    sc = sc.with_columns(pl.when(pl.col("item_id").shift(-1) == pl.col("item_id")).then(pl.col("changed_at").shift(-1)).alias("_next"))
    last = sc.group_by("item_id").agg(pl.col("category").last().alias("_final"))
    # Start of the final run of the last category: the first change after the last change of any other category.
    sc = sc.join(last, on="item_id")
    other = sc.filter(pl.col("category") != pl.col("_final")).group_by("item_id").agg(pl.col("changed_at").max().alias("_last_other"))
    sc = sc.join(other, on="item_id", how="left")
    final_at = (
        sc.filter((pl.col("category") == pl.col("_final")) & (pl.col("_last_other").is_null() | (pl.col("changed_at") > pl.col("_last_other"))))
        .group_by("item_id").agg(pl.col("changed_at").min().alias("_final_at"), pl.col("_final").first())
    )
    start = sc.filter(pl.col("category").is_in(["waiting", "active"])).group_by("item_id").agg(pl.col("changed_at").min().alias("_sc_start"))
    tl = final_at.join(start, on="item_id", how="full", coalesce=True)
    tl = tl.with_columns(
        pl.when(pl.col("_final") == "done").then(pl.col("_final_at")).alias("_sc_done"),
        pl.when(pl.col("_final") == "canceled").then(pl.col("_final_at")).alias("_sc_canceled"),
    )
    # Time in each category between start and done (only for completed items).
    spans = (
        sc.join(tl.select("item_id", "_sc_start", "_sc_done"), on="item_id")
        .filter(pl.col("_sc_done").is_not_null() & (pl.col("changed_at") >= pl.col("_sc_start")) & (pl.col("changed_at") < pl.col("_sc_done")))
        .with_columns(((pl.min_horizontal(pl.col("_next").fill_null(pl.col("_sc_done")), pl.col("_sc_done")) - pl.col("changed_at")).dt.total_microseconds() / DAY).alias("_d"))
        .group_by("item_id")
        .agg(
            pl.col("_d").filter(pl.col("category") == "active").sum().alias("active_days"),
            pl.col("_d").filter(pl.col("category").is_in(["waiting", "new"])).sum().alias("wait_days"),
        )
    )
    tl = tl.join(spans, on="item_id", how="left")
    items = items.join(tl, left_on="_row", right_on="item_id", how="left")
    done = pl.coalesce("_sc_done", pl.when(pl.col("_final").is_null()).then(pl.col("_completed")))
    cancel = pl.coalesce("_sc_canceled", pl.when(pl.col("_final").is_null() & pl.col("_completed").is_null()).then(pl.col("_canceled")))
    start_expr = pl.coalesce("_sc_start", "_started", "created_at")
    out = items.with_columns(done.alias("done_at"), cancel.alias("end_canceled"), start_expr.alias("start"))
    out = out.with_columns(pl.min_horizontal("start", pl.col("done_at").fill_null(pl.col("start"))).alias("start"))
    return out.drop([c for c in out.columns if c.startswith("_")])


WIP = ("waiting", "active")


def wip_moves(timeline: pl.DataFrame, status_changes: pl.DataFrame | None) -> pl.DataFrame:
    """(value_stream, at, delta): +1 when an item enters work in progress, -1 when it leaves.

    With status history an item is in progress exactly while its category is waiting or active, so
    an item reopened after done counts again only while reopened. Items without history count from
    their start to their end (done or canceled).
    """
    parts = []
    tl = timeline
    if status_changes is not None and status_changes.height:
        # A plain shift on rows sorted by item (a new item starts from "not in progress") is much
        # faster than a window over item ids.
        # Items keyed by their row in the timeline (a u32 sorts far faster than the id text);
        # changes of items not in the timeline drop out here, as the join to it dropped them.
        rows = timeline.select(pl.col("id").alias("item_id"), pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), "value_stream")
        sc = (
            status_changes.lazy().filter(pl.col("category").is_not_null()).select("item_id", "changed_at", pl.col("category").is_in(list(WIP)).cast(pl.Int32).alias("_in"))
            .join(rows.lazy(), on="item_id", how="inner")
            .sort("_row", "changed_at")
            .with_columns(pl.when(pl.col("_row") == pl.col("_row").shift(1)).then(pl.col("_in").shift(1)).otherwise(0).alias("_prev"))
            .with_columns((pl.col("_in") - pl.col("_prev")).alias("delta"))
            .collect()
        )
        parts.append(sc.filter(pl.col("delta") != 0).select("value_stream", pl.col("changed_at").alias("at"), "delta"))
        tl = timeline.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row")).join(sc.select("_row").unique(), on="_row", how="anti").drop("_row")
    end = pl.coalesce("done_at", "end_canceled")
    parts += [
        tl.filter(pl.col("start").is_not_null()).select("value_stream", pl.col("start").alias("at"), pl.lit(1, dtype=pl.Int32).alias("delta")),
        tl.filter(end.is_not_null()).select("value_stream", end.alias("at"), pl.lit(-1, dtype=pl.Int32).alias("delta")),
    ]
    return pl.concat(parts)


def daily_wip(timeline: pl.DataFrame, first_day: dt.date, last_day: dt.date, timezone: str, status_changes: pl.DataFrame | None = None) -> pl.DataFrame:
    """Work in progress at the end of each local day per value stream (see wip_moves)."""
    moves = wip_moves(timeline, status_changes)
    events = moves.select("value_stream", pl.col("at").dt.convert_time_zone(timezone).dt.date().alias("day"), "delta")
    # Everything before the window folds into its first day, so the running sum starts right.
    events = events.with_columns(pl.when(pl.col("day") < first_day).then(pl.lit(first_day)).otherwise(pl.col("day")).alias("day")).filter(pl.col("day") <= last_day)
    per_day = events.group_by("value_stream", "day").agg(pl.col("delta").sum())
    days = pl.DataFrame({"day": pl.date_range(first_day, last_day, "1d", eager=True)})
    grid = per_day.select("value_stream").unique().join(days, how="cross")
    return (
        grid.join(per_day, on=["value_stream", "day"], how="left")
        .with_columns(pl.col("delta").fill_null(0))
        .sort("value_stream", "day")
        .with_columns(pl.col("delta").cum_sum().over("value_stream").alias("wip"))
        .drop("delta")
    )


def compute(datasets: dict[str, pl.DataFrame], periods: list[Period], period: str, timezone: str, as_of_end: dt.datetime) -> tuple[pl.DataFrame, dict[str, pl.DataFrame], dict[str, dict[str, int]], pl.DataFrame | None]:
    """Returns (figures, drill-down, exclusions, daily WIP frame)."""
    items = datasets.get("work_items")
    if items is None:
        return empty_figures(), {}, {}, None
    sc = datasets.get("status_changes")
    tl = item_timeline(items, sc)
    tl = tl.with_columns(((pl.col("done_at") - pl.col("start")).dt.total_microseconds() / DAY).alias("flow_time_days"))
    done = tl.filter(pl.col("done_at").is_not_null())
    has_history = sc is not None and sc.height > 0
    aggs = [
        ("flow_velocity", pl.len(), pl.len()),
        ("flow_time", median_expr("flow_time_days"), pl.len()),
        ("flow_time_p85", quantile_expr("flow_time_days", 0.85), pl.len()),
        ("flow_time_p95", quantile_expr("flow_time_days", 0.95), pl.len()),
    ]
    if has_history:
        span = pl.col("active_days").fill_null(0) + pl.col("wait_days").fill_null(0)
        aggs.append(("flow_efficiency", pl.col("active_days").fill_null(0).sum() / span.sum() * 100, (span > 0).sum()))
    for t in TYPES:
        aggs.append((f"flow_distribution_{t}", (pl.col("type") == t).mean() * 100, pl.len()))
    figures = [summarise(done, "done_at", periods, period, timezone, aggs)]

    first_day = periods[0].start.astimezone(_tz(timezone)).date()
    last_day = min(periods[-1].end - dt.timedelta(microseconds=1), as_of_end).astimezone(_tz(timezone)).date()
    wip = daily_wip(tl, first_day, last_day, timezone, sc)
    if wip.height:
        labelled = wip.with_columns(date_label("day", period).alias("period"))
        per = labelled.group_by("value_stream", "period").agg(pl.col("wip").mean().alias("v::flow_load"), pl.len().alias("n::flow_load"))
        whole = labelled.group_by("value_stream").agg(pl.col("wip").mean().alias("v::flow_load"), pl.len().alias("n::flow_load")).with_columns(pl.lit(WINDOW).alias("period"))
        figures.append(to_long(pl.concat([per, whole.select(per.columns)]), ["flow_load"]))

    canceled = tl.filter(pl.col("done_at").is_null() & pl.col("end_canceled").is_not_null()).height
    open_items = tl.filter(pl.col("done_at").is_null() & pl.col("end_canceled").is_null()).height
    excluded = {m: {"canceled": canceled, "not completed": open_items} for m in ("flow_velocity", "flow_time", "flow_efficiency")}
    drill = {
        "work_items": tl.select(
            "id", "value_stream", "type", "start", "done_at",
            pl.col("flow_time_days").round(3), pl.col("active_days").round(3), pl.col("wait_days").round(3),
        ).sort("value_stream", "done_at", "id", nulls_last=True)
    }
    return pl.concat(figures, how="vertical_relaxed"), drill, excluded, wip


def _tz(name: str):
    import zoneinfo

    return zoneinfo.ZoneInfo(name)
