"""Edge cases of the metrics on small hand-computed data, through the real path (flowsite.yml ->
load_sources -> compute_metrics), under all three definition profiles.

The project: Europe/Berlin, monthly periods Feb-Apr 2026 (as_of 2026-04-30). Summer time starts on
Sunday 2026-03-29, so March is 31 days minus one hour long.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from flowsite.config import load_config
from flowsite.metrics import compute_metrics
from flowsite.metrics import devlake as D
from flowsite.metrics.stats import median_expr
from flowsite.metrics.tiers import BENCHMARKS
from flowsite.scorecard import build_scorecards, format_value
from flowsite.sources.load import load_sources
from tests.conftest import write_project

DEPLOYMENTS = """\
id,value_stream,finished_at,environment,result
d0,web,2026-02-02T10:00:00Z,production,success
d1,web,2026-03-02T10:00:00Z,production,success
d2,web,2026-03-09T10:00:00Z,production,success
d3,web,2026-03-10T10:00:00Z,production,failure
d4,web,2026-03-16T10:00:00Z,staging,success
d5,web,2026-03-23T10:00:00Z,production,success
d6,web,2026-03-31T22:30:00Z,production,success
"""
# c0's first commit is older than the first observed deployment d0 (apache/devlake#8188).
CHANGES = """\
id,value_stream,first_commit_at,deployment_id
c0,web,2026-02-01T10:00:00Z,d1
c1,web,2026-03-02T09:00:00Z,d1
c2,web,2026-03-02T08:00:00Z,d1
c3,web,2026-03-09T07:00:00Z,d2
c4,web,2026-03-09T06:00:00Z,d2
c5,web,2026-03-10T06:00:00Z,d3
"""
# i2 comes 11 days after the last production deployment: beyond flowsite's 168 h window.
INCIDENTS = """\
id,value_stream,created_at,resolved_at,caused_by_deployment
i1,web,2026-03-02T12:00:00Z,2026-03-02T14:00:00Z,
i2,web,2026-03-20T10:00:00Z,,
i3,web,2026-03-23T11:00:00Z,2026-03-23T12:30:00Z,d5
"""
ITEMS = """\
id,type,value_stream,created_at
w1,feature,web,2026-03-01T08:00:00Z
w2,defect,web,2026-03-02T08:00:00Z
w3,risk,web,2026-03-05T09:00:00Z
w4,debt,web,2026-03-20T08:00:00Z
w5,feature,web,2026-03-28T10:00:00Z
"""
# w2 is reopened after done; w3 is canceled; w4 never completes; w5 spans the switch to summer time.
STATUS = """\
item_id,status,changed_at
w1,Open,2026-03-01T08:00:00Z
w1,In Progress,2026-03-02T08:00:00Z
w1,Done,2026-03-04T08:00:00Z
w2,Ready,2026-03-02T08:00:00Z
w2,In Progress,2026-03-03T08:00:00Z
w2,Done,2026-03-05T08:00:00Z
w2,In Progress,2026-03-10T08:00:00Z
w2,Done,2026-03-12T08:00:00Z
w3,Ready,2026-03-05T09:00:00Z
w3,Canceled,2026-03-06T09:00:00Z
w4,Ready,2026-03-20T08:00:00Z
w4,In Progress,2026-03-21T08:00:00Z
w5,In Progress,2026-03-28T12:00:00+01:00
w5,Done,2026-03-29T12:00:00+02:00
"""


def project(tmp_path: Path, profile: str = "flowsite", changes: str = CHANGES) -> Path:
    return write_project(tmp_path / profile, f"""
        name: Edge cases
        period: month
        window: 3
        as_of: 2026-04-30
        timezone: Europe/Berlin
        profile: {profile}
        incident_window_hours: 168
        sources:
          deployments: data/deployments.csv
          changes: data/changes.csv
          incidents: data/incidents.csv
          work_items: data/work_items.csv
          status_changes: data/status_changes.csv
        statuses:
          new: [Open]
          waiting: [Ready]
          active: [In Progress]
          done: [Done]
          canceled: [Canceled]
        value_streams:
          - {{id: web, name: Web}}
          - {{id: ops, name: Ops}}
        """, {"data/deployments.csv": DEPLOYMENTS, "data/changes.csv": changes, "data/incidents.csv": INCIDENTS,
              "data/work_items.csv": ITEMS, "data/status_changes.csv": STATUS})


def results_for(tmp_path: Path, profile: str = "flowsite", changes: str = CHANGES):
    config = load_config(project(tmp_path, profile, changes))
    return config, compute_metrics(config, load_sources(config).frames)


MARCH_DAYS = (31 * 24 - 1) / 24  # summer time starts on 29 March


# --- statistics ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "expected"), [("interpolated", 2.5), ("lower", 2.0)])
def test_median_of_an_even_count(kind, expected):
    assert pl.DataFrame({"x": [4.0, 1.0, 3.0, 2.0]}).select(median_expr("x", kind)).item() == expected


def test_medians_of_one_sample_and_none():
    one = pl.DataFrame({"x": [7.0]})
    assert one.select(median_expr("x")).item() == one.select(median_expr("x", "lower")).item() == 7.0
    assert D.lower_median([]) is None and D.lower_median([5]) == 5 and D.lower_median([1, 2]) == 1 and D.upper_median([1, 2]) == 2


def test_devlake_rounding():
    frame = pl.DataFrame({"a": [dt.datetime(2026, 1, 1, 10, 0, 0)], "b": [dt.datetime(2026, 1, 1, 10, 1, 1)]})
    got = frame.select(D.ceil_minutes(pl.col("b"), pl.col("a")).alias("up"), D.trunc_minutes(pl.col("b"), pl.col("a")).alias("down"), D.ceil_minutes(pl.col("a"), pl.col("b")).alias("neg"))
    assert got.row(0) == (2, 1, None)


# --- flowsite profile ----------------------------------------------------------------------------

def test_flowsite_lead_time_even_count_and_first_deployment_exclusion(tmp_path):
    _, r = results_for(tmp_path)
    assert r.value("web", "lead_time", "2026-03") == (2.5, 4)  # 1, 2, 3, 4 h
    assert r.exclusions["lead_time"] == {"first commit before the first observed deployment": 1, "not deployed": 1}
    assert r.value("web", "lead_time", "2026-04") == (None, 0)  # an empty period is no data, never 0
    assert r.value("ops", "deployment_frequency", "window") == (None, 0)


def test_flowsite_deployment_frequency_across_summer_time(tmp_path):
    _, r = results_for(tmp_path)
    assert r.value("web", "deployment_frequency", "2026-02") == (pytest.approx(1 / 4), 1)
    # d6 at 22:30 UTC on 31 March is 00:30 on 1 April in Berlin (CEST).
    mar, n_mar = r.value("web", "deployment_frequency", "2026-03")
    assert n_mar == 3 and mar == pytest.approx(3 / (MARCH_DAYS / 7))
    assert r.value("web", "deployment_frequency", "2026-04") == (pytest.approx(1 / (30 / 7)), 1)


def test_flowsite_incident_window_bounds_attribution(tmp_path):
    _, r = results_for(tmp_path)
    inc = dict(r.drilldown["incidents"].select("id", "deployment_id").iter_rows())
    assert inc == {"i1": "d1", "i2": None, "i3": "d5"}
    assert r.value("web", "change_failure_rate", "2026-03") == (pytest.approx(200 / 3), 3)
    assert r.value("web", "recovery_time", "window") == (pytest.approx(1.75), 2)
    assert r.exclusions["recovery_time"] == {"unresolved": 0, "not caused by a deployment": 1}


def test_flow_reopened_canceled_never_completed_and_summer_time(tmp_path):
    _, r = results_for(tmp_path)
    wi = {row["id"]: row for row in r.drilldown["work_items"].iter_rows(named=True)}
    assert wi["w2"]["flow_time_days"] == 10 and wi["w2"]["active_days"] == 4 and wi["w2"]["wait_days"] == 1
    assert wi["w5"]["flow_time_days"] == pytest.approx(23 / 24, abs=1e-3)  # a 23-hour day
    assert wi["w3"]["done_at"] is None and wi["w4"]["done_at"] is None
    assert r.value("web", "flow_velocity", "2026-03") == (3, 3)
    assert r.value("web", "flow_time", "2026-03") == (2.0, 3)
    assert r.value("web", "flow_efficiency", "2026-03")[0] == pytest.approx((2 + 4 + 23 / 24) / (2 + 5 + 23 / 24) * 100)
    assert r.exclusions["flow_velocity"] == {"canceled": 1, "not completed": 1}
    assert r.value("web", "flow_velocity", "2026-04") == (None, 0)


def test_flow_load_follows_status_moves(tmp_path):
    _, r = results_for(tmp_path)
    wip = dict(r.daily_wip.filter(pl.col("value_stream") == "web").select("day", "wip").iter_rows())
    expected = {1: 0, 2: 2, 3: 2, 4: 1, 5: 1, 6: 0, 9: 0, 10: 1, 11: 1, 12: 0, 19: 0, 20: 1, 27: 1, 28: 2, 29: 1, 31: 1}
    assert {d: wip[dt.date(2026, 3, d)] for d in expected} == expected  # w2 is not in progress while done (5-9 March)
    assert wip[dt.date(2026, 4, 30)] == 1  # w4 never completes


def test_coverage_warnings_small_n_and_late_history(tmp_path):
    config, r = results_for(tmp_path)
    card = build_scorecards(config, r).scorecard("web")
    rec = card.figure("recovery_time")
    assert "small sample: n = 2" in rec.warnings
    assert any(w.startswith("history starts 2026-02-02") for w in card.figure("deployment_frequency").warnings)
    assert format_value(None, "hours") == "no data"


# --- devlake profile -----------------------------------------------------------------------------

def test_devlake_profile(tmp_path):
    _, r = results_for(tmp_path, "devlake")
    # No exclusion before the first deployment: 1, 2, 3, 4 h and c0's 696 h; lower median.
    assert r.value("web", "lead_time", "window") == (3.0, 5)
    # No window: i2 is blamed on d2; caused_by_deployment is not consulted (i3 -> d5 by time).
    inc = dict(r.drilldown["incidents"].select("id", "deployment_id").iter_rows())
    assert inc == {"i1": "d1", "i2": "d2", "i3": "d5"}
    assert r.value("web", "change_failure_rate", "window") == (60.0, 5)
    # From the deployment's finish, truncated minutes: 240 and 150 -> lower median 150 min.
    assert r.value("web", "recovery_time", "window") == (2.5, 2)
    assert r.exclusions["recovery_time"]["unresolved"] == 1
    assert r.value("ops", "change_failure_rate", "window") == (None, 0)


def test_devlake_lower_median_on_an_even_count(tmp_path):
    _, r = results_for(tmp_path, "devlake", CHANGES.replace("c0,web,2026-02-01T10:00:00Z,d1\n", ""))
    assert r.value("web", "lead_time", "window") == (2.0, 4)


def test_devlake_deployment_days_and_tier(tmp_path):
    _, r = results_for(tmp_path, "devlake")
    # Calendar days 1 Feb - 30 Apr; deployment days (UTC dates) d0, d1, d2, d5, d6 in Monday weeks that mostly have none.
    assert r.value("web", "deployment_days_per_week", "window")[0] == 0
    months = r.value("web", "deployment_days_per_month", "window")
    assert months == (1.0, 3)  # Feb 1, Mar 4 (d6 is 31 March in UTC), Apr 0 -> lower median 1
    r.benchmark = BENCHMARKS["devlake-2023"]
    assert r.tier("web", "deployment_frequency") == "medium"


# --- fourkeys profile ----------------------------------------------------------------------------

def test_fourkeys_profile(tmp_path):
    _, r = results_for(tmp_path, "fourkeys")
    # Pairs 1, 2, 3, 4 h and c0 (696 h), truncated minutes, interpolated median; c5's deployment failed.
    assert r.value("web", "lead_time", "window") == (3.0, 5)
    # Whole hours from the earlier of incident and root-cause deployment: i1 2 h, i3 2.5 -> 2 h.
    assert r.value("web", "recovery_time", "window") == (2.0, 2)
    # Only deployments that shipped a change count (d1, d2); i3's d5 shipped none in this data.
    assert r.value("web", "change_failure_rate", "window") == (0.0, 2)
    # Four Keys counts successful deployments to any environment: d0, d4 (staging), d5 and d6 shipped no change.
    assert r.exclusions["change_failure_rate"] == {"incident names no deployment": 2, "deployment shipped no change": 4}


def test_fourkeys_deployment_buckets(tmp_path):
    _, r = results_for(tmp_path, "fourkeys")
    # Sunday weeks 1 Feb - 26 Apr (13, from the first deployment); deployed weeks: 1 Feb and 1, 8, 15
    # (d4, staging, counts), 22 and 29 March.
    assert r.value("web", "deployment_days_per_week", "window") == (0.0, 13)
    assert r.value("web", "deployment_weeks_median", "window") == (0.0, 13)
    # Deployed weeks in each week's month: Feb 1 (x4), Mar 5 (x5), Apr 0 (x4) -> median 1 -> "Monthly".
    assert r.value("web", "deployed_weeks_per_month", "window") == (1.0, 13)
    r.benchmark = BENCHMARKS["fourkeys"]
    assert r.tier("web", "deployment_frequency") == "medium"


@pytest.mark.parametrize(("day", "expected"), [(dt.date(2026, 4, 30), dt.date(2026, 1, 30)), (dt.date(2026, 5, 31), dt.date(2026, 2, 28)), (dt.date(2024, 5, 31), dt.date(2024, 2, 29)), (dt.date(2026, 1, 15), dt.date(2025, 10, 15))])
def test_fourkeys_three_month_window_clamps_like_date_sub(day, expected):
    from flowsite.metrics.profiles import months_before

    assert months_before(day, 3) == expected


def test_devlake_2021_setting_measures_time_to_restore(tmp_path):
    root = project(tmp_path, "devlake")
    (root / "flowsite.yml").write_text((root / "flowsite.yml").read_text().replace("profile: devlake", "profile: devlake\nbenchmark: devlake-2021"))
    config = load_config(root)
    r = compute_metrics(config, load_sources(config).frames)
    # Incident created -> resolved, every resolved incident: i1 120 min, i3 90 min -> lower median 90.
    assert r.value("web", "recovery_time", "window") == (1.5, 2)
    assert r.exclusions["recovery_time"] == {"unresolved": 1}
