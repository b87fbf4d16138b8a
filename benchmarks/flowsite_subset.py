"""The benchmark's six-metric subset computed with flowsite's own metric functions (the same ones the
metric stage runs), without the rest of the stage (other metrics, window figures' extras,
drill-down tables, daily WIP, scorecards): the like-for-like row next to duckdb_metrics.py."""
from __future__ import annotations

import polars as pl

from flowsite.metrics import dora, flow
from flowsite.metrics._frame import summarise
from flowsite.metrics.stats import median_expr


def compute(frames: dict[str, pl.DataFrame], periods, config, value_streams: list[str]) -> pl.DataFrame:
    tz, period = config.timezone, config.period
    prod = dora.production_deployments(frames["deployments"], config.environments)
    parts = [dora.deployment_frequency(prod, periods, period, tz, value_streams)]
    lt = dora.change_lead_times(frames["changes"], prod)
    ok = lt.lazy().filter(pl.col("excluded").is_null()).with_columns((pl.col("lead_time_minutes") / 60).alias("lead_hours"))
    parts.append(summarise(ok, "deployed_at", periods, period, tz, [("lead_time", median_expr("lead_hours"), pl.len())]))
    linked = dora.attribute_incidents(frames["incidents"], prod, config.incident_window_hours)
    failed = linked.filter(pl.col("deployment_id").is_not_null()).select(pl.col("deployment_id").alias("id")).unique().with_columns(pl.lit(True).alias("failed"))
    deps = prod.join(failed, on="id", how="left").with_columns(pl.col("failed").fill_null(False))
    parts.append(summarise(deps, "finished_at", periods, period, tz, [("change_failure_rate", pl.col("failed").mean() * 100, pl.len())]))
    rec = linked.filter(pl.col("deployment_id").is_not_null() & pl.col("resolved_at").is_not_null()).with_columns(
        ((pl.col("resolved_at") - pl.col("created_at")).dt.total_microseconds() / dora.HOUR).alias("recovery_hours"))
    parts.append(summarise(rec, "resolved_at", periods, period, tz, [("recovery_time", median_expr("recovery_hours"), pl.len())]))
    tl = flow.item_timeline(frames["work_items"], frames.get("status_changes"))
    done = tl.lazy().filter(pl.col("done_at").is_not_null()).with_columns(((pl.col("done_at") - pl.col("start")).dt.total_microseconds() / flow.DAY).alias("flow_time_days"))
    parts.append(summarise(done, "done_at", periods, period, tz, [("flow_velocity", pl.len(), pl.len()), ("flow_time", median_expr("flow_time_days"), pl.len())]))
    return pl.concat(parts, how="vertical_relaxed")
