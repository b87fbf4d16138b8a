"""DORA's five metrics under the `flowsite` profile (the peer profiles live in profiles.py)."""
from __future__ import annotations

import datetime as dt

import polars as pl

from ._frame import divided, empty_figures, group_by_period, sort_by_stream, summarise
from ._counts import count, counts_by
from .periods import WINDOW, Period, date_label, in_window
from .stats import median_expr

HOUR = 3_600_000_000  # microseconds


def production_deployments(deployments: pl.DataFrame, environments: tuple[str, ...]) -> pl.DataFrame:
    """Successful deployments to a production environment (no environment column: all count).

    In the input's order: every use groups, joins or sorts them by what it needs (a sort by the
    value stream's text here cost more than all the figures computed from them)."""
    keep = []
    if "environment" in deployments.columns:
        keep.append(pl.col("environment").is_null() | pl.col("environment").is_in(list(environments)))
    if "result" in deployments.columns:
        keep.append(pl.col("result") == "success")
    return deployments.filter(*keep) if keep else deployments


def attribute_incidents(incidents: pl.DataFrame, deployments: pl.DataFrame, window_hours: float | None) -> pl.DataFrame:
    """Each incident with the id of the deployment that caused it (`deployment_id`, may be null).

    An explicit `caused_by_deployment` wins; otherwise the latest production deployment of the same
    value stream that finished at or before the incident was opened, at most `window_hours` earlier.
    """
    # Sorted by time alone (an integer sort; sorted within each value stream too, which is all the
    # as-of join by value stream needs), not by the value stream's text first.
    inc = incidents.sort("created_at", maintain_order=True)
    deps = deployments.select("value_stream", pl.col("finished_at").alias("_dep_at"), pl.col("id").alias("_nearest")).sort("_dep_at", maintain_order=True)
    joined = inc.join_asof(
        deps, left_on="created_at", right_on="_dep_at", by="value_stream", strategy="backward", check_sortedness=False,
        tolerance=dt.timedelta(hours=window_hours) if window_hours is not None else None,
    )
    explicit = pl.col("caused_by_deployment") if "caused_by_deployment" in inc.columns else pl.lit(None, dtype=pl.String)
    valid = explicit.is_in(deployments.get_column("id").implode())
    return joined.with_columns(pl.when(explicit.is_not_null()).then(pl.when(valid).then(explicit)).otherwise(pl.col("_nearest")).alias("deployment_id")).drop("_dep_at", "_nearest")


def deployment_frequency(prod: pl.DataFrame, periods: list[Period], period: str, timezone: str, value_streams: list[str]) -> pl.DataFrame:
    """Deployments per week per period; zero (not 'no data') once a value stream has deployed."""
    labels = [p.label for p in periods]
    weeks = {p.label: p.days / 7 for p in periods}
    first = prod.group_by("value_stream").agg(pl.col("finished_at").min().alias("first"))
    counts = group_by_period(prod.lazy().filter(in_window("finished_at", periods)), "finished_at", periods, period, timezone, [pl.len().alias("n")]).collect()
    grid = pl.DataFrame({"value_stream": value_streams}).join(pl.DataFrame({"period": labels, "_end": [p.end for p in periods], "_weeks": [weeks[l] for l in labels]}), how="cross")
    grid = grid.join(first, on="value_stream", how="inner").filter(pl.col("first") < pl.col("_end"))
    grid = grid.join(counts, on=["value_stream", "period"], how="left").with_columns(pl.col("n").fill_null(0).cast(pl.Int64))
    per = grid.select("value_stream", pl.lit("deployment_frequency").alias("metric"), "period", (pl.col("n") / pl.col("_weeks")).alias("value"), "n")
    # Window figure: deployments per week over the part of the window after the first deployment.
    window_start, window_end = periods[0].start, periods[-1].end
    whole = (
        grid.group_by("value_stream").agg(pl.col("n").sum(), pl.col("first").first())
        .with_columns(pl.max_horizontal(pl.col("first"), pl.lit(window_start)).alias("_from"))
        .with_columns(divided(divided((pl.lit(window_end) - pl.col("_from")).dt.total_seconds(), 86400), 7).alias("_weeks"))
        .select("value_stream", pl.lit("deployment_frequency").alias("metric"), pl.lit(WINDOW).alias("period"), (pl.col("n") / pl.col("_weeks").clip(lower_bound=1 / 7)).alias("value"), "n")
    )
    return pl.concat([per, whole]).with_columns(pl.col("value").cast(pl.Float64), pl.col("n").cast(pl.Int64))


def change_lead_times(changes: pl.DataFrame, prod: pl.DataFrame, exclude_before_first_deploy: bool = True) -> pl.DataFrame:
    """Changes with their deployment time and lead time in hours; excluded rows carry a reason."""
    ch = changes.lazy()  # one plan, collected once at the end
    if "deployment_id" in changes.columns:
        dep = prod.lazy().select(pl.col("id").alias("deployment_id"), pl.col("finished_at").alias("_dep_finished"))
        ch = ch.join(dep, on="deployment_id", how="left")
    else:
        ch = ch.with_columns(pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("_dep_finished"), pl.lit(None, dtype=pl.String).alias("deployment_id"))
    deployed = pl.col("_dep_finished")
    if "deployed_at" in changes.columns:
        deployed = pl.coalesce(pl.col("_dep_finished"), pl.col("deployed_at"))
    ch = ch.with_columns(deployed.alias("deployed_at")).drop("_dep_finished")
    first = prod.lazy().group_by("value_stream").agg(pl.col("finished_at").min().alias("_first_deploy"))
    ch = ch.join(first, on="value_stream", how="left")
    lead = divided((pl.col("deployed_at") - pl.col("first_commit_at")).dt.total_microseconds(), HOUR)
    reason = (
        pl.when(pl.col("deployed_at").is_null()).then(pl.lit("not deployed"))
        .when(lead <= 0).then(pl.lit("deployed before first commit"))
        .when(pl.lit(exclude_before_first_deploy) & (pl.col("_first_deploy").is_null() | (pl.col("first_commit_at") < pl.col("_first_deploy")))).then(pl.lit("first commit before the first observed deployment"))
        .otherwise(None)
    )
    return ch.with_columns((lead * 60).alias("lead_time_minutes"), reason.alias("excluded")).drop("_first_deploy").collect()


def local_days(periods: list[Period], timezone: str, as_of_end: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """First and last calendar day of the window in `timezone`, not past the end of as_of."""
    import zoneinfo

    tz = zoneinfo.ZoneInfo(timezone)
    end = periods[-1].end if as_of_end is None else min(periods[-1].end, as_of_end)
    return periods[0].start.astimezone(tz).date(), (end - dt.timedelta(microseconds=1)).astimezone(tz).date()


def compute(datasets: dict[str, pl.DataFrame], periods: list[Period], period: str, timezone: str, environments: tuple[str, ...], incident_window_hours: float, value_streams: list[str],
            as_of_end: dt.datetime | None = None) -> tuple[pl.DataFrame, dict[str, pl.DataFrame], dict[str, dict[str, int]]]:
    """Returns (figures, drill-down frames, exclusions per metric)."""
    parts = [empty_figures()]
    drill: dict[str, pl.DataFrame] = {}
    excluded: dict[str, dict[str, int]] = {}
    deployments = datasets.get("deployments")
    incidents = datasets.get("incidents")
    changes = datasets.get("changes")
    if deployments is None:
        return parts[0], drill, excluded
    prod = production_deployments(deployments, environments)
    excluded["deployment_frequency"] = {"not a successful production deployment": count(deployments) - count(prod)}
    parts.append(deployment_frequency(prod, periods, period, timezone, value_streams))
    span = local_days(periods, timezone, as_of_end)
    parts.append(deployment_days(prod, value_streams, period, timezone, span, span))

    if "is_rework" in prod.columns:
        parts.append(summarise(prod, "finished_at", periods, period, timezone, [
            ("rework_rate", pl.col("is_rework").fill_null(False).mean() * 100, pl.len()),
        ]))

    if changes is not None:
        lt = change_lead_times(changes, prod)
        excluded["lead_time"] = counts_by(lt, "excluded")
        ok = lt.lazy().filter(pl.col("excluded").is_null()).with_columns(divided(pl.col("lead_time_minutes"), 60).alias("lead_hours"))
        parts.append(summarise(ok, "deployed_at", periods, period, timezone, [("lead_time", median_expr("lead_hours"), pl.len())]))
        drill["changes"] = sort_by_stream(lt.select("id", "value_stream", "first_commit_at", "deployed_at", "deployment_id", pl.col("lead_time_minutes").round(1), "excluded"), "deployed_at", nulls_last=True)

    inc_linked = None
    if incidents is not None:
        inc_linked = attribute_incidents(incidents, prod, incident_window_hours)
        failed = inc_linked.filter(pl.col("deployment_id").is_not_null()).group_by("deployment_id").agg(pl.col("id").sort().str.join(";").alias("incident_ids"))
        deps = prod.join(failed, left_on="id", right_on="deployment_id", how="left").with_columns(pl.col("incident_ids").is_not_null().alias("failed"))
        parts.append(summarise(deps, "finished_at", periods, period, timezone, [("change_failure_rate", pl.col("failed").mean() * 100, pl.len())]))
        rec = inc_linked.filter(pl.col("deployment_id").is_not_null()).with_columns(
            (divided((pl.col("resolved_at") - pl.col("created_at")).dt.total_microseconds(), HOUR) if "resolved_at" in inc_linked.columns else pl.lit(None, dtype=pl.Float64)).alias("recovery_hours")
        )
        excluded["recovery_time"] = {"unresolved": count(rec.filter(pl.col("recovery_hours").is_null())), "not caused by a deployment": count(inc_linked) - count(rec)}
        if "resolved_at" in rec.columns:
            parts.append(summarise(rec.lazy().filter(pl.col("recovery_hours").is_not_null()), "resolved_at", periods, period, timezone, [("recovery_time", median_expr("recovery_hours"), pl.len())]))
        drill["incidents"] = sort_by_stream(inc_linked.join(rec.select("id", "recovery_hours"), on="id", how="left").select(
            "id", "value_stream", "created_at", *(["resolved_at"] if "resolved_at" in inc_linked.columns else []), "deployment_id", (pl.col("recovery_hours") * 60).round(1).alias("recovery_minutes")
        ), "created_at")
    else:
        deps = prod.with_columns(pl.lit(None, dtype=pl.String).alias("incident_ids"), pl.lit(None, dtype=pl.Boolean).alias("failed"))
    drill["deployments"] = sort_by_stream(deps.select("id", "value_stream", "finished_at", "failed", "incident_ids"), "finished_at")
    return pl.concat(parts, how="vertical_relaxed"), drill, excluded


def deployment_days(prod: pl.DataFrame, value_streams: list[str], period: str, day_timezone: str, days: tuple[dt.date, dt.date], window: tuple[dt.date, dt.date],
                    *, week_start: int = 1, statistic: str = "interpolated", buckets: tuple[str, ...] = ("week", "month"), from_first: bool = True) -> pl.DataFrame:
    """Deployment days (days with >= 1 deployment) per calendar week / month / half-year, summarised
    by a median over the buckets, zero buckets included.

    `days` is the span of calendar days (in `day_timezone`) for the per-period figures, `window` the
    span for the window figure; `week_start` is the ISO weekday weeks start on (1 Monday, 7 Sunday);
    `statistic` is `interpolated`, `lower` (DevLake) or `upper`; with `from_first`, days before a value
    stream's first deployment are not counted. Figures: deployment_days_per_<bucket>.
    """
    metric = {"week": "deployment_days_per_week", "month": "deployment_days_per_month", "half": "deployment_days_per_six_months"}
    if prod.height == 0 or days[0] > days[1]:
        return empty_figures()
    deployed = prod.select("value_stream", pl.col("finished_at").dt.convert_time_zone(day_timezone).dt.date().alias("day")).unique().with_columns(pl.lit(1).alias("deployed"))
    first = deployed.group_by("value_stream").agg(pl.col("day").min().alias("_first"))
    lo, hi = min(days[0], window[0]), max(days[1], window[1])
    # Each calendar day's period label, once per day (not once per value stream and day).
    calendar = pl.DataFrame({"day": pl.date_range(lo, hi, "1d", eager=True)}).with_columns(date_label("day", period).alias("period"))
    grid = first.filter(pl.col("value_stream").is_in(value_streams)).join(calendar, how="cross")
    if from_first:
        grid = grid.filter(pl.col("day") >= pl.col("_first"))
    grid = grid.join(deployed, on=["value_stream", "day"], how="left").with_columns(pl.col("deployed").fill_null(0))
    offset = (pl.col("day").dt.weekday() - week_start) % 7
    keys = {
        "week": pl.col("day") - pl.duration(days=offset),
        "month": pl.col("day").dt.truncate("1mo"),
        "half": pl.date(pl.col("day").dt.year(), pl.when(pl.col("day").dt.month() <= 6).then(1).otherwise(7), 1),
    }
    stat = {"interpolated": pl.col("d").median(), "lower": pl.col("d").quantile(0.5, "lower"), "upper": pl.col("d").quantile(0.5, "higher")}[statistic]
    parts = [empty_figures()]
    for b in buckets:
        g = grid.with_columns(keys[b].alias("bucket"))
        in_days = g.filter(pl.col("day").is_between(*days))
        per = in_days.group_by("value_stream", "period", "bucket").agg(pl.col("deployed").sum().alias("d")).group_by("value_stream", "period").agg(stat.alias("value"), pl.len().alias("n"))
        whole = (
            g.filter(pl.col("day").is_between(*window)).group_by("value_stream", "bucket").agg(pl.col("deployed").sum().alias("d"))
            .group_by("value_stream").agg(stat.alias("value"), pl.len().alias("n")).with_columns(pl.lit(WINDOW).alias("period"))
        )
        for frame in (per, whole):
            parts.append(frame.select("value_stream", pl.lit(metric[b]).alias("metric"), "period", pl.col("value").cast(pl.Float64), pl.col("n").cast(pl.Int64)))
    return pl.concat(parts, how="vertical_relaxed")
