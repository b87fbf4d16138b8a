"""The peer definition profiles of the DORA metrics: `devlake` and `fourkeys`.

Each reproduces one tool's rules on flowsite's canonical datasets: what counts as a deployment, how
incidents are attributed, how lead time is measured, which median, which window and how durations
are rounded. Every rule is documented with its source in docs/metrics/profiles.md; the `flowsite`
profile lives in dora.py.
"""
from __future__ import annotations

import datetime as dt

import polars as pl

from ..config import Config
from ..errors import ConfigError, Problem
from ._frame import divided, empty_figures, summarise
from ._counts import count, counts_by
from .devlake import ceil_minutes, trunc_minutes
from .dora import deployment_days, deployment_frequency, local_days
from .periods import WINDOW, Period
from .stats import median_expr

Result = tuple[pl.DataFrame, dict[str, pl.DataFrame], dict[str, dict[str, int]]]
UTC = pl.Datetime("us", "UTC")
DEVLAKE_MAX_DAYS = 400  # DevLake's deployment-day calendar reaches at most 400 days back


def compute(profile: str, frames: dict[str, pl.DataFrame], periods: list[Period], config: Config, vs_ids: list[str], as_of_end: dt.datetime | None = None) -> Result:
    """(figures, drill-down frames, exclusions per metric) of the DORA metrics under `profile`."""
    as_of_end = as_of_end or periods[-1].end
    if profile == "devlake":
        return devlake(frames, periods, config, vs_ids, as_of_end)
    if profile == "fourkeys":
        return fourkeys(frames, periods, config, vs_ids, as_of_end)
    raise ConfigError(problems=[Problem(f"expected a definition profile (flowsite, devlake, fourkeys), got {profile!r}", key="profile")])


def _rework(prod: pl.DataFrame, periods: list[Period], config: Config) -> list[pl.DataFrame]:
    if "is_rework" not in prod.columns:
        return []
    return [summarise(prod, "finished_at", periods, config.period, config.timezone, [("rework_rate", pl.col("is_rework").fill_null(False).mean() * 100, pl.len())])]


# --- DevLake -------------------------------------------------------------------------------------

def devlake_deployments(deployments: pl.DataFrame, environments: tuple[str, ...]) -> pl.DataFrame:
    """Successful deployments to production. Unlike flowsite, a deployment without an environment is
    not a production one (DevLake keeps only environment = PRODUCTION)."""
    df = deployments
    if "environment" in df.columns:
        df = df.filter(pl.col("environment").is_in(list(environments)))
    if "result" in df.columns:
        df = df.filter(pl.col("result") == "success")
    return df.sort("value_stream", "finished_at")


def devlake_incidents(incidents: pl.DataFrame, prod: pl.DataFrame) -> pl.DataFrame:
    """Each incident with the latest production deployment of its value stream that finished strictly
    before it was created (DevLake: no window, and `caused_by_deployment` is not consulted)."""
    deps = prod.select("value_stream", pl.col("finished_at").alias("_dep_at"), pl.col("id").alias("deployment_id")).sort("value_stream", "_dep_at")
    inc = incidents.drop("deployment_id", strict=False).sort("value_stream", "created_at")
    return inc.join_asof(deps, left_on="created_at", right_on="_dep_at", by="value_stream", strategy="backward", allow_exact_matches=False, check_sortedness=False).rename({"_dep_at": "deployment_finished_at"})


def devlake_cycle_minutes(changes: pl.DataFrame, deployed: str = "deployed_at") -> pl.Expr:
    """DevLake's pr_cycle_time: coding (first commit -> opened) + opened -> merged + deploy (merged ->
    deployed), each in whole minutes rounded up, a negative part counted as 0. Without `opened_at`
    the PR counts as opened when merged; without `merged_at`, as merged when deployed."""
    dep = pl.col(deployed)
    merged = pl.coalesce(pl.col("merged_at"), dep) if "merged_at" in changes.columns else dep
    opened = pl.coalesce(pl.col("opened_at"), merged) if "opened_at" in changes.columns else merged
    first = pl.col("first_commit_at")
    return ceil_minutes(opened, first).fill_null(0) + ceil_minutes(merged, opened).fill_null(0) + ceil_minutes(dep, merged).fill_null(0)


def devlake(frames: dict[str, pl.DataFrame], periods: list[Period], config: Config, vs_ids: list[str], as_of_end: dt.datetime) -> Result:
    tz, period = config.timezone, config.period
    parts = [empty_figures()]
    drill: dict[str, pl.DataFrame] = {}
    excluded: dict[str, dict[str, int]] = {}
    deployments, incidents, changes = frames.get("deployments"), frames.get("incidents"), frames.get("changes")
    if deployments is None:
        return parts[0], drill, excluded
    prod = devlake_deployments(deployments, config.environments)
    excluded["deployment_frequency"] = {"not a successful production deployment": count(deployments) - count(prod)}
    parts.append(deployment_frequency(prod, periods, period, tz, vs_ids))
    # Every calendar day of the range counts (DevLake's calendar table); a deployment's day is its UTC date.
    first_day, last_day = local_days(periods, tz, as_of_end)
    first_day = max(first_day, last_day - dt.timedelta(days=DEVLAKE_MAX_DAYS))
    span = (first_day, last_day)
    parts.append(deployment_days(prod, vs_ids, period, "UTC", span, span, week_start=1, statistic="lower", from_first=False))
    parts.append(deployment_days(prod, vs_ids, period, "UTC", span, span, statistic="upper", buckets=("half",), from_first=False))
    parts += _rework(prod, periods, config)

    if changes is not None:
        ch = changes
        if "deployment_id" in ch.columns:
            ch = ch.join(prod.select(pl.col("id").alias("deployment_id"), pl.col("finished_at").alias("_dep_finished")), on="deployment_id", how="left")
            linked = pl.col("deployment_id").is_not_null()
        else:
            ch = ch.with_columns(pl.lit(None, dtype=UTC).alias("_dep_finished"), pl.lit(None, dtype=pl.String).alias("deployment_id"))
            linked = pl.lit(False)
        own = pl.col("deployed_at") if "deployed_at" in ch.columns else pl.lit(None, dtype=UTC)
        # The deployment commit's own finish (the preset fills deployed_at), else the deployment's.
        deployed = pl.when(linked).then(pl.when(pl.col("_dep_finished").is_not_null()).then(pl.coalesce(own, pl.col("_dep_finished")))).otherwise(own)
        ch = ch.with_columns(deployed.alias("deployed_at")).drop("_dep_finished")
        ch = ch.with_columns(pl.when(pl.col("deployed_at").is_not_null()).then(devlake_cycle_minutes(ch)).alias("lead_time_minutes"))
        reason = pl.when(linked & pl.col("deployed_at").is_null()).then(pl.lit("deployment is not a successful production one")).when(pl.col("deployed_at").is_null()).then(pl.lit("not deployed"))
        ch = ch.with_columns(reason.alias("excluded"))
        excluded["lead_time"] = counts_by(ch, "excluded")
        ok = ch.filter(pl.col("excluded").is_null()).with_columns(divided(pl.col("lead_time_minutes"), 60).alias("lead_hours"))
        parts.append(summarise(ok, "deployed_at", periods, period, tz, [("lead_time", median_expr("lead_hours", "lower"), pl.len())]))
        drill["changes"] = ch.select("id", "value_stream", "first_commit_at", "deployed_at", "deployment_id", pl.col("lead_time_minutes").cast(pl.Float64), "excluded").sort("value_stream", "deployed_at", "id", nulls_last=True)

    if incidents is not None:
        linked_inc = devlake_incidents(incidents, prod)
        failed = linked_inc.filter(pl.col("deployment_id").is_not_null()).group_by("deployment_id").agg(pl.col("id").sort().str.join(";").alias("incident_ids"))
        deps = prod.join(failed, left_on="id", right_on="deployment_id", how="left").with_columns(pl.col("incident_ids").is_not_null().alias("failed"))
        cfr = summarise(deps, "finished_at", periods, period, tz, [("change_failure_rate", pl.col("failed").mean() * 100, pl.len())])
        # N/A, not 0 %, for a value stream without any incident (DevLake's dashboard).
        with_incidents = incidents.get_column("value_stream").unique().implode()
        parts.append(cfr.with_columns(pl.when(pl.col("value_stream").is_in(with_incidents)).then(pl.col("value")).alias("value")))
        resolved = pl.col("resolved_at") if "resolved_at" in linked_inc.columns else pl.lit(None, dtype=UTC)
        rec = linked_inc.with_columns(resolved.alias("_resolved"))
        restore = _devlake_time_to_restore if config.benchmark == "devlake-2021" else _devlake_recovery
        figures, rec = restore(rec, periods, config, excluded)
        parts.append(figures)
        drill["incidents"] = rec.select(
            "id", "value_stream", "created_at", pl.col("_resolved").alias("resolved_at"), "deployment_id", pl.col("recovery_minutes").cast(pl.Float64),
        ).sort("value_stream", "created_at", "id")
    else:
        deps = prod.with_columns(pl.lit(None, dtype=pl.String).alias("incident_ids"), pl.lit(None, dtype=pl.Boolean).alias("failed"))
    drill["deployments"] = deps.select("id", "value_stream", "finished_at", "failed", "incident_ids").sort("value_stream", "finished_at", "id")
    return pl.concat(parts, how="vertical_relaxed"), drill, excluded


def _devlake_recovery(rec: pl.DataFrame, periods: list[Period], config: Config, excluded: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    """2023 setting, failed deployment recovery time: attributed deployment's finish -> resolution,
    truncated minutes, both in the window, grouped by the deployment's period; lower median."""
    rec = rec.with_columns(pl.when(pl.col("deployment_id").is_not_null()).then(trunc_minutes(pl.col("_resolved"), pl.col("deployment_finished_at"))).alias("recovery_minutes"))
    win_start, win_end = periods[0].start, periods[-1].end
    inside = lambda c: (pl.col(c) >= win_start) & (pl.col(c) < win_end)  # noqa: E731
    usable = rec.filter(pl.col("recovery_minutes").is_not_null() & inside("_resolved") & inside("deployment_finished_at"))
    excluded["recovery_time"] = {
        "unresolved": count(rec.filter(pl.col("deployment_id").is_not_null() & pl.col("_resolved").is_null())),
        "no earlier production deployment": count(rec.filter(pl.col("deployment_id").is_null())),
        "deployment finished or incident resolved outside the window": count(rec.filter(pl.col("recovery_minutes").is_not_null())) - count(usable),
    }
    usable = usable.with_columns(divided(pl.col("recovery_minutes"), 60).alias("recovery_hours"))
    return summarise(usable, "deployment_finished_at", periods, config.period, config.timezone, [("recovery_time", median_expr("recovery_hours", "lower"), pl.len())]), rec


def _devlake_time_to_restore(rec: pl.DataFrame, periods: list[Period], config: Config, excluded: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    """2021 setting, time to restore service: every incident resolved in the window, created ->
    resolved in truncated minutes, no link to deployments needed; lower median."""
    rec = rec.with_columns(trunc_minutes(pl.col("_resolved"), pl.col("created_at")).alias("recovery_minutes"))
    excluded["recovery_time"] = {"unresolved": count(rec.filter(pl.col("_resolved").is_null()))}
    usable = rec.filter(pl.col("recovery_minutes").is_not_null()).with_columns(divided(pl.col("recovery_minutes"), 60).alias("recovery_hours"))
    return summarise(usable, "_resolved", periods, config.period, config.timezone, [("recovery_time", median_expr("recovery_hours", "lower"), pl.len())]), rec


# --- Four Keys -----------------------------------------------------------------------------------

def months_before(day: dt.date, months: int) -> dt.date:
    """`day` minus whole calendar months, clamped to the month's last day (BigQuery DATE_SUB)."""
    m = day.month - 1 - months
    year, month = day.year + m // 12, m % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def fourkeys_window(as_of_end: dt.datetime) -> Period:
    """The last three months up to the end of as_of (UTC days), Four Keys' bucket window."""
    last = (as_of_end - dt.timedelta(microseconds=1)).astimezone(dt.timezone.utc).date()
    start = months_before(last, 3)
    return Period(WINDOW, dt.datetime.combine(start, dt.time(), dt.timezone.utc), as_of_end)


def _split(df: pl.DataFrame, ts: str, periods: list[Period], window: Period, config: Config, aggs) -> pl.DataFrame:
    """Per-period figures over all data (Four Keys' daily charts), the window figure over `window`."""
    per = summarise(df, ts, periods, config.period, config.timezone, aggs).filter(pl.col("period") != WINDOW)
    whole = summarise(df, ts, [window], config.period, config.timezone, aggs).filter(pl.col("period") == WINDOW)
    return pl.concat([per, whole])


def _weekly_rate(prod: pl.DataFrame, vs_ids: list[str], window: Period) -> pl.DataFrame:
    """Deployments per week over the window, counted from the first deployment if it is later."""
    first = prod.group_by("value_stream").agg(pl.col("finished_at").min().alias("_first"))
    inside = prod.filter((pl.col("finished_at") >= window.start) & (pl.col("finished_at") < window.end)).group_by("value_stream").agg(pl.len().alias("n"))
    rows = first.filter(pl.col("value_stream").is_in(vs_ids) & (pl.col("_first") < window.end)).join(inside, on="value_stream", how="left").with_columns(pl.col("n").fill_null(0))
    weeks = divided(divided((pl.lit(window.end) - pl.max_horizontal(pl.col("_first"), pl.lit(window.start))).dt.total_seconds(), 86400), 7).clip(lower_bound=1 / 7)
    return rows.select("value_stream", pl.lit("deployment_frequency").alias("metric"), pl.lit(WINDOW).alias("period"), (pl.col("n") / weeks).cast(pl.Float64).alias("value"), pl.col("n").cast(pl.Int64))


def fourkeys_weeks(prod: pl.DataFrame, vs_ids: list[str], window: Period) -> pl.DataFrame:
    """Four Keys' weekly/monthly deployment buckets over the window (weeks start on Sunday, UTC days,
    not before the first deployment): the median of 'week had a deployment' (0/1), and the median
    over weeks of the number of deployed weeks in that week's month."""
    last = (window.end - dt.timedelta(microseconds=1)).date()
    first = window.start.date()
    deployed = prod.select("value_stream", pl.col("finished_at").dt.convert_time_zone("UTC").dt.date().alias("day")).unique()
    starts = deployed.group_by("value_stream").agg(pl.col("day").min().alias("_first"))
    grid = starts.filter(pl.col("value_stream").is_in(vs_ids)).join(pl.DataFrame({"day": pl.date_range(first, last, "1d", eager=True)}), how="cross").filter(pl.col("day") >= pl.col("_first"))
    if grid.height == 0:
        return empty_figures()
    grid = grid.join(deployed.with_columns(pl.lit(1).alias("d")), on=["value_stream", "day"], how="left")
    weeks = (
        grid.with_columns((pl.col("day") - pl.duration(days=pl.col("day").dt.weekday() % 7)).alias("week"))
        .group_by("value_stream", "week").agg((pl.col("d").sum() > 0).cast(pl.Int64).alias("deployed"))
        .with_columns(pl.col("week").dt.truncate("1mo").alias("month"))
        .with_columns(pl.col("deployed").sum().over("value_stream", "month").alias("in_month"))
    )
    out = weeks.group_by("value_stream").agg(pl.col("deployed").median().alias("w"), pl.col("in_month").median().alias("m"), pl.len().alias("n"))
    return pl.concat([
        out.select("value_stream", pl.lit("deployment_weeks_median").alias("metric"), pl.lit(WINDOW).alias("period"), pl.col("w").cast(pl.Float64).alias("value"), pl.col("n").cast(pl.Int64)),
        out.select("value_stream", pl.lit("deployed_weeks_per_month").alias("metric"), pl.lit(WINDOW).alias("period"), pl.col("m").cast(pl.Float64).alias("value"), pl.col("n").cast(pl.Int64)),
    ])


def fourkeys(frames: dict[str, pl.DataFrame], periods: list[Period], config: Config, vs_ids: list[str], as_of_end: dt.datetime) -> Result:
    tz, period = config.timezone, config.period
    parts = [empty_figures()]
    drill: dict[str, pl.DataFrame] = {}
    excluded: dict[str, dict[str, int]] = {}
    deployments, incidents, changes = frames.get("deployments"), frames.get("incidents"), frames.get("changes")
    if deployments is None:
        return parts[0], drill, excluded
    window = fourkeys_window(as_of_end)
    # Four Keys records successful deployment events of any environment; failed ones never arrive.
    prod = deployments.filter(pl.col("result") == "success") if "result" in deployments.columns else deployments
    prod = prod.sort("value_stream", "finished_at")
    excluded["deployment_frequency"] = {"not a successful deployment": count(deployments) - count(prod)}
    parts.append(deployment_frequency(prod, periods, period, tz, vs_ids).filter(pl.col("period") != WINDOW))
    parts.append(_weekly_rate(prod, vs_ids, window))
    all_days = local_days(periods, tz, as_of_end)
    win_days = (window.start.date(), (window.end - dt.timedelta(microseconds=1)).date())
    parts.append(deployment_days(prod, vs_ids, period, "UTC", all_days, win_days, week_start=7, statistic="interpolated", buckets=("week",), from_first=True))
    parts.append(fourkeys_weeks(prod, vs_ids, window))
    parts += _rework(prod, periods, config)

    pairs = None
    if changes is not None:
        ch = changes
        if "deployment_id" in ch.columns:
            ch = ch.join(prod.select(pl.col("id").alias("deployment_id"), pl.col("finished_at").alias("_dep")), on="deployment_id", how="left")
        else:
            ch = ch.with_columns(pl.lit(None, dtype=UTC).alias("_dep"), pl.lit(None, dtype=pl.String).alias("deployment_id"))
        own = pl.col("deployed_at") if "deployed_at" in ch.columns else pl.lit(None, dtype=UTC)
        ch = ch.with_columns(pl.coalesce(pl.col("_dep"), own).alias("deployed_at")).drop("_dep")
        ch = ch.with_columns(trunc_minutes(pl.col("deployed_at"), pl.col("first_commit_at")).alias("lead_time_minutes"))
        ch = ch.with_columns(
            pl.when(pl.col("deployed_at").is_null()).then(pl.lit("not deployed"))
            .when(pl.col("lead_time_minutes") <= 0).then(pl.lit("0 minutes or less (automated or merge push)")).alias("excluded")
        )
        excluded["lead_time"] = counts_by(ch, "excluded")
        ok = ch.filter(pl.col("excluded").is_null()).with_columns(divided(pl.col("lead_time_minutes"), 60).alias("lead_hours"))
        parts.append(_split(ok, "deployed_at", periods, window, config, [("lead_time", median_expr("lead_hours", "interpolated"), pl.len())]))
        drill["changes"] = ch.select("id", "value_stream", "first_commit_at", "deployed_at", "deployment_id", pl.col("lead_time_minutes").cast(pl.Float64), "excluded").sort("value_stream", "deployed_at", "id", nulls_last=True)
        pairs = ch.filter(pl.col("deployment_id").is_not_null() & pl.col("deployed_at").is_not_null())

    if incidents is not None:
        inc = incidents
        cause = pl.col("caused_by_deployment") if "caused_by_deployment" in inc.columns else pl.lit(None, dtype=pl.String)
        inc = inc.with_columns(cause.alias("deployment_id")).join(prod.select(pl.col("id").alias("deployment_id"), pl.col("finished_at").alias("_dep")), on="deployment_id", how="left")
        # Four Keys' time_created: the earlier of the incident and the deployment holding its root cause.
        inc = inc.with_columns(pl.min_horizontal("created_at", "_dep").alias("_opened"), pl.when(pl.col("_dep").is_not_null()).then(pl.col("deployment_id")).alias("deployment_id"))
        resolved = pl.col("resolved_at") if "resolved_at" in inc.columns else pl.lit(None, dtype=UTC)
        inc = inc.with_columns(resolved.alias("_resolved")).with_columns((trunc_minutes(pl.col("_resolved"), pl.col("_opened")) // 60).alias("_hours"))
        excluded["recovery_time"] = {"unresolved": count(inc.filter(pl.col("_hours").is_null()))}
        parts.append(_split(inc.filter(pl.col("_hours").is_not_null()), "_opened", periods, window, config, [("recovery_time", median_expr(pl.col("_hours").cast(pl.Float64), "interpolated"), pl.len())]))
        # CFR: incident/root-cause matches over distinct deployments (not capped at 100 %).
        deps = prod if pairs is None else prod.join(pairs.select(pl.col("deployment_id").alias("id")).unique(), on="id", how="semi")
        matches = inc.filter(pl.col("deployment_id").is_not_null()).group_by("deployment_id").agg(pl.len().alias("matches"), pl.col("id").sort().str.join(";").alias("incident_ids"))
        deps = deps.join(matches, left_on="id", right_on="deployment_id", how="left").with_columns(pl.col("matches").fill_null(0), (pl.col("matches").fill_null(0) > 0).alias("failed"))
        parts.append(_split(deps, "finished_at", periods, window, config, [("change_failure_rate", pl.col("matches").sum() / pl.len() * 100, pl.len())]))
        excluded["change_failure_rate"] = {"incident names no deployment": count(inc.filter(pl.col("deployment_id").is_null()))}
        if pairs is not None:
            excluded["change_failure_rate"]["deployment shipped no change"] = count(prod) - count(deps)
        drill["incidents"] = inc.select("id", "value_stream", "created_at", pl.col("_resolved").alias("resolved_at"), "deployment_id", (pl.col("_hours") * 60).cast(pl.Float64).alias("recovery_minutes")).sort("value_stream", "created_at", "id")
    else:
        deps = prod.with_columns(pl.lit(None, dtype=pl.String).alias("incident_ids"), pl.lit(None, dtype=pl.Boolean).alias("failed"))
    drill["deployments"] = deps.select("id", "value_stream", "finished_at", "failed", "incident_ids").sort("value_stream", "finished_at", "id")
    return pl.concat(parts, how="vertical_relaxed"), drill, excluded
