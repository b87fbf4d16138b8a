"""The benchmark's comparison subset written as DuckDB SQL, the way DevLake and Four Keys compute DORA:
a calendar table, CTEs over the raw tables, ASOF/range joins and percentile aggregates.

Subset (per value stream and period of the window, flowsite profile definitions): deployment
frequency (successful production deployments per week, zero once a stream has deployed), lead time
for changes (interpolated median hours, changes first committed after the stream's first
deployment), change failure rate (% of production deployments with an incident: the incident's
explicit deployment, else the stream's latest deployment at most `incident_window_hours` before it),
recovery time (median hours, deployment-caused incidents, by month resolved), flow velocity (items
done) and flow time (median days from first waiting/active status to the start of the final done run).
"""
from __future__ import annotations

import duckdb
import polars as pl

SQL = """
WITH prod AS (
    SELECT id, value_stream, finished_at FROM deployments
    WHERE (environment IS NULL OR environment IN (SELECT env FROM envs)) AND result = 'success'
),
first_deploy AS (SELECT value_stream, min(finished_at) AS first_at FROM prod GROUP BY value_stream),
dep_counts AS (
    SELECT p.value_stream, c.label, count(*) AS n
    FROM prod p JOIN calendar c ON p.finished_at >= c.start_at AND p.finished_at < c.end_at
    GROUP BY ALL
),
deployment_frequency AS (
    SELECT f.value_stream, 'deployment_frequency' AS metric, c.label AS period,
           coalesce(d.n, 0) / c.weeks AS value, coalesce(d.n, 0) AS n
    FROM first_deploy f CROSS JOIN calendar c
    LEFT JOIN dep_counts d ON d.value_stream = f.value_stream AND d.label = c.label
    WHERE f.first_at < c.end_at
),
change_lead AS (
    SELECT ch.value_stream, coalesce(p.finished_at, {change_deployed_at}) AS deployed_at, ch.first_commit_at, f.first_at
    FROM changes ch
    LEFT JOIN prod p ON p.id = ch.deployment_id
    LEFT JOIN first_deploy f ON f.value_stream = ch.value_stream
),
lead_time AS (
    SELECT l.value_stream, 'lead_time' AS metric, c.label AS period,
           quantile_cont(epoch_us(l.deployed_at - l.first_commit_at) / 3600000000.0, 0.5) AS value, count(*) AS n
    FROM change_lead l JOIN calendar c ON l.deployed_at >= c.start_at AND l.deployed_at < c.end_at
    WHERE l.deployed_at > l.first_commit_at AND l.first_at IS NOT NULL AND l.first_commit_at >= l.first_at
    GROUP BY ALL
),
nearest AS (
    SELECT i.id, i.value_stream, i.created_at, i.resolved_at, i.caused_by_deployment, p.id AS dep_id, p.finished_at AS dep_at
    FROM incidents i ASOF LEFT JOIN prod p ON i.value_stream = p.value_stream AND i.created_at >= p.finished_at
),
linked AS (
    SELECT n.*,
        CASE WHEN n.caused_by_deployment IS NOT NULL THEN pe.id
             WHEN n.dep_at >= n.created_at - to_microseconds(CAST({window_us} AS BIGINT)) THEN n.dep_id END AS deployment_id
    FROM nearest n LEFT JOIN prod pe ON pe.id = n.caused_by_deployment
),
failed AS (SELECT DISTINCT deployment_id FROM linked WHERE deployment_id IS NOT NULL),
change_failure_rate AS (
    SELECT p.value_stream, 'change_failure_rate' AS metric, c.label AS period,
           avg(CASE WHEN f.deployment_id IS NOT NULL THEN 1.0 ELSE 0.0 END) * 100 AS value, count(*) AS n
    FROM prod p JOIN calendar c ON p.finished_at >= c.start_at AND p.finished_at < c.end_at
    LEFT JOIN failed f ON f.deployment_id = p.id
    GROUP BY ALL
),
recovery_time AS (
    SELECT l.value_stream, 'recovery_time' AS metric, c.label AS period,
           quantile_cont(epoch_us(l.resolved_at - l.created_at) / 3600000000.0, 0.5) AS value, count(*) AS n
    FROM linked l JOIN calendar c ON l.resolved_at >= c.start_at AND l.resolved_at < c.end_at
    WHERE l.deployment_id IS NOT NULL
    GROUP BY ALL
),
sc AS (SELECT item_id, changed_at, category FROM status_changes WHERE category IS NOT NULL),
final_cat AS (SELECT item_id, arg_max(category, changed_at) AS final FROM sc GROUP BY item_id),
last_other AS (
    SELECT s.item_id, max(s.changed_at) AS last_other FROM sc s JOIN final_cat f USING (item_id)
    WHERE s.category <> f.final GROUP BY s.item_id
),
final_run AS (
    SELECT s.item_id, min(s.changed_at) AS final_at, any_value(f.final) AS final
    FROM sc s JOIN final_cat f USING (item_id) LEFT JOIN last_other o USING (item_id)
    WHERE s.category = f.final AND (o.last_other IS NULL OR s.changed_at > o.last_other)
    GROUP BY s.item_id
),
first_start AS (SELECT item_id, min(changed_at) AS sc_start FROM sc WHERE category IN ('waiting', 'active') GROUP BY item_id),
timeline AS (
    SELECT w.value_stream,
        CASE WHEN r.final = 'done' THEN r.final_at WHEN r.final IS NULL THEN {completed_at} END AS done_at,
        coalesce(s.sc_start, {started_at}, w.created_at) AS start0
    FROM work_items w LEFT JOIN final_run r ON r.item_id = w.id LEFT JOIN first_start s ON s.item_id = w.id
),
done AS (
    SELECT value_stream, done_at, epoch_us(done_at - least(start0, done_at)) / 86400000000.0 AS days
    FROM timeline WHERE done_at IS NOT NULL
),
flow AS (
    SELECT d.value_stream, c.label AS period, count(*) AS n, quantile_cont(d.days, 0.5) AS median_days
    FROM done d JOIN calendar c ON d.done_at >= c.start_at AND d.done_at < c.end_at
    GROUP BY ALL
)
SELECT * FROM deployment_frequency
UNION ALL SELECT * FROM lead_time
UNION ALL SELECT * FROM change_failure_rate
UNION ALL SELECT * FROM recovery_time
UNION ALL SELECT value_stream, 'flow_velocity', period, n, n FROM flow
UNION ALL SELECT value_stream, 'flow_time', period, median_days, n FROM flow
"""


def compute(frames: dict[str, pl.DataFrame], calendar: pl.DataFrame, environments: list[str], window_hours: float, con: duckdb.DuckDBPyConnection | None = None) -> pl.DataFrame:
    """Figures (value_stream, metric, period, value, n) from the canonical frames, in DuckDB.

    The frames are handed over as Arrow (zero-copy), as a DuckDB user would query loaded tables."""
    con = con or duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name in ("deployments", "changes", "incidents", "work_items", "status_changes"):
        con.register(name, frames[name].to_arrow())
    con.register("calendar", calendar.to_arrow())
    con.register("envs", pl.DataFrame({"env": environments}).to_arrow())
    wi, ch = frames["work_items"].columns, frames["changes"].columns
    sql = SQL.format(
        change_deployed_at="ch.deployed_at" if "deployed_at" in ch else "NULL",
        completed_at="w.completed_at" if "completed_at" in wi else "NULL",
        started_at="w.started_at" if "started_at" in wi else "NULL",
        window_us=int(window_hours * 3_600_000_000),
    )
    return pl.from_arrow(con.sql(sql).to_arrow_table()).cast({"value": pl.Float64, "n": pl.Int64})
