"""Metrics as code: SQL in flowsite.yml becomes figures on scorecards, metric pages, data and badges."""
from __future__ import annotations

import json

import pytest

from flowsite import build, check
from flowsite.errors import ConfigError
from tests.conftest import run_cli
from tests.workflow.project import small_project

# Per-row form: a timestamp column bucketed into months, combined with `aggregate`.
FAILED_SHARE = """
metrics:
  - id: failed_share
    name: Failed deployment attempts
    group: delivery
    unit: "%"
    direction: lower
    target: 10
    at_risk: 30
    description: Share of production deployment attempts that failed.
    aggregate: mean
    sql: |
      SELECT value_stream, finished_at,
             CASE WHEN result = 'success' THEN 0.0 ELSE 100.0 END AS value
      FROM deployments
      WHERE environment = 'production'
"""

# Figure form: period labels and n straight from the query.
DEFECTS = """
  - id: defects_done
    name: Defects completed
    group: flow
    unit: items
    decimals: 0
    sql: SELECT value_stream, strftime(completed_at, '%Y-%m') AS period, COUNT(*) AS value, COUNT(*) AS n FROM work_items WHERE type = 'defect' GROUP BY 1, 2
"""


def _figure(result, vs, metric):
    return result.model.scorecard(vs).figure(metric)


def test_timestamp_rows_are_bucketed_and_aggregated(tmp_path):
    project = small_project(tmp_path / "p", FAILED_SHARE)
    res = check(project)
    f = res.results.figures
    got = {(r["value_stream"], r["period"]): (r["value"], r["n"]) for r in f.filter(f["metric"] == "failed_share").iter_rows(named=True)}
    assert got[("shop", "2026-07")] == (0.0, 1)
    assert got[("shop", "2026-08")] == (100.0, 1)
    assert got[("shop", "2026-09")] == (0.0, 4)  # the staging deployment is filtered by the query
    assert got[("shop", "window")] == (pytest.approx(100 / 6), 6)
    assert got[("app", "2026-08")] == (0.0, 1)
    fig = _figure(res, "shop", "failed_share")
    assert fig.group == "delivery" and fig.status.value == "on-track" and fig.target == 10
    assert fig.delta == pytest.approx(-100.0)


def test_figure_rows_and_site(tmp_path):
    project = small_project(tmp_path / "p", FAILED_SHARE + DEFECTS)
    out = tmp_path / "site"
    res = build(project, out=out)
    fig = _figure(res, "shop", "defects_done")
    assert [(p.period, p.value) for p in fig.trend] == [("2026-07", 1.0), ("2026-08", None), ("2026-09", None)]
    v = out / res.version
    page = (v / "metrics" / "failed_share" / "index.html").read_text()
    assert "Failed deployment attempts" in page and "Share of production deployment attempts that failed." in page
    card = (v / "value-streams" / "shop" / "index.html").read_text()
    assert "Failed deployment attempts" in card and "Defects completed" in card
    doc = json.loads((v / "data" / "metrics.json").read_text())
    shop = next(c for c in doc["scorecards"] if c["id"] == "shop")
    assert {"failed_share", "defects_done"} <= {x["metric"] for x in shop["figures"]}
    assert (v / "badges" / "shop" / "failed_share.svg").is_file()


def test_metrics_command_and_gate_see_custom_metrics(tmp_path):
    project = small_project(tmp_path / "p", FAILED_SHARE.replace("target: 10", "target: -1").replace("at_risk: 30", "at_risk: -0.5"))
    r = run_cli("metrics", project, "--metric", "failed_share", "--fail-on", "off-track")
    assert r.exit_code == 3, r.output
    assert "failed_share" in r.stdout


def test_missing_dataset_means_no_data(tmp_path):
    project = small_project(tmp_path / "p", """
metrics:
  - id: incident_count
    sql: SELECT value_stream, created_at, 1.0 AS value FROM incidents
""")
    res = check(project)
    fig = _figure(res, "shop", "incident_count")
    assert fig is None or fig.value is None


def _error(tmp_path, sql: str) -> ConfigError:
    project = small_project(tmp_path / "p", "metrics:\n  - id: broken\n    sql: |\n" + "".join(f"      {line}\n" for line in sql.splitlines()))
    with pytest.raises(ConfigError) as exc:
        check(project)
    return exc.value


def test_parse_error_names_metric_and_position(tmp_path):
    err = _error(tmp_path, "SELECT value_stream, finished_at,\n  COUNT(* AS value FROM deployments")
    p = err.problems[0]
    assert p.key == "metrics[0].sql" and p.line == 17 and p.file.endswith("flowsite.yml")
    assert "metric 'broken'" in p.message and "SQL line 2, column 11" in p.message
    r = run_cli("metrics", tmp_path / "p")
    assert r.exit_code == 1
    assert "flowsite.yml:17: metrics[0].sql: metric 'broken': SQL line 2, column 11: sql parser error" in r.stderr


def test_unknown_column_is_located(tmp_path):
    err = _error(tmp_path, "SELECT value_stream, finished_at,\n       duration AS value\nFROM deployments")
    p = err.problems[0]
    assert "metric 'broken'" in p.message and "SQL line 2, column 8" in p.message and "duration" in p.message


def test_wrong_result_columns(tmp_path):
    err = _error(tmp_path, "SELECT value_stream, COUNT(*) AS total FROM deployments GROUP BY 1")
    assert "expected columns value in the result, got value_stream, total" in err.problems[0].message
    err = _error(tmp_path, "SELECT value_stream, COUNT(*) AS value FROM deployments GROUP BY 1")
    assert "expected columns period (or a timestamp column) in the result" in err.problems[0].message
    err = _error(tmp_path, "SELECT value_stream, 'window' AS period, COUNT(*) AS value FROM deployments GROUP BY 1")
    assert "expected columns n in the result" in err.problems[0].message


def test_builtin_id_is_refused(tmp_path):
    project = small_project(tmp_path / "p", "metrics:\n  - {id: lead_time, sql: SELECT 1}\n")
    r = run_cli("check", project)
    assert r.exit_code == 1
    assert "metrics[0].id: expected an id of your own, got the built-in metric id 'lead_time'" in r.stderr


def test_schema_errors_point_at_the_key(tmp_path):
    project = small_project(tmp_path / "p", "metrics:\n  - {id: x, sql: SELECT 1, aggregate: avg}\n  - {id: x, sql: SELECT 2}\n")
    r = run_cli("check", project)
    assert r.exit_code == 1
    assert "metrics[0].aggregate: expected one of sum, mean, median, min, max, count, p85, p95, got text 'avg'" in r.stderr
    assert "metrics[1].id: expected a unique metric id, got 'x' a second time" in r.stderr


def test_custom_metrics_do_not_leak_into_the_next_build(tmp_path):
    check(small_project(tmp_path / "a", FAILED_SHARE))
    res = check(small_project(tmp_path / "b"))
    from flowsite.metrics import CATALOGUE

    assert "failed_share" not in CATALOGUE
    assert _figure(res, "shop", "failed_share") is None


def test_dates_are_local_calendar_days(tmp_path):
    # In New York, a deployment at 02:00 UTC on 1 September is still 31 August; a DATE the query
    # returns is taken as a calendar day of the project's time zone, as written.
    project = small_project(tmp_path / "p", """
metrics:
  - id: by_day
    aggregate: count
    sql: SELECT value_stream, CAST(finished_at AS DATE) AS day, 1.0 AS value FROM deployments WHERE id = 'd-late'
  - id: by_time
    aggregate: count
    sql: SELECT value_stream, finished_at, 1.0 AS value FROM deployments WHERE id = 'd-late'
""")
    cfg = project / "flowsite.yml"
    cfg.write_text(cfg.read_text().replace("timezone: UTC", "timezone: America/New_York"))
    with (project / "data" / "deployments.csv").open("a") as fh:
        fh.write("d-late,shop,production,success,2026-09-01T02:00:00Z\n")
    f = check(project).results.figures
    got = {(r["metric"], r["period"]): r["value"] for r in f.filter(f["metric"].is_in(["by_day", "by_time"]) & (f["value_stream"] == "shop")).iter_rows(named=True)}
    assert got[("by_time", "2026-08")] == 1.0 and ("by_time", "2026-09") not in got
    assert got[("by_day", "2026-09")] == 1.0 and ("by_day", "2026-08") not in got
