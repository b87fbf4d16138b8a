"""`flowsite metrics`: figures without a site, in three formats, with filters and a CI gate (exit 3)."""
from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import run_cli, tree_digest
from tests.workflow.project import small_project


@pytest.fixture
def project(tmp_path):
    return small_project(tmp_path / "p")


def test_json_has_every_figure_and_writes_nothing(project):
    before = tree_digest(project)
    r = run_cli("metrics", project, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    meta = doc["metadata"]
    assert meta["schema_version"] == "flowsite/figures/v1" and meta["project"] == "Small Co" and meta["as_of"] == "2026-09-30"
    assert meta["periods"] == ["2026-07", "2026-08", "2026-09"]
    rows = {(f["value_stream"], f["metric"]): f for f in doc["figures"]}
    # shop: 4 production deployments in September (30 days) -> 4 / (30/7) per week.
    df = rows[("shop", "deployment_frequency")]
    assert df["period"] == "2026-09" and df["n"] == 4
    assert df["value"] == pytest.approx(4 / (30 / 7), rel=1e-6)
    assert df["status"] == "at-risk"  # target 1, at_risk 0.5
    # shop flow time in September: items of 14 and 2 days -> median 8.
    assert rows[("shop", "flow_time")]["value"] == pytest.approx(8.0)
    assert rows[("app", "flow_time")]["status"] == "off-track"
    assert rows[("shop", "flow_velocity")]["status"] == "no-target"
    assert tree_digest(project) == before, "metrics must not write into the project"


def test_csv_and_table_agree_with_json(project):
    rows = json.loads(run_cli("metrics", project, "--format", "json").stdout)["figures"]
    r = run_cli("metrics", project, "--format", "csv")
    assert r.exit_code == 0, r.output
    parsed = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(p["value_stream"], p["metric"], p["status"]) for p in parsed] == [(x["value_stream"], x["metric"], x["status"]) for x in rows]
    table = run_cli("metrics", project).stdout.splitlines()
    assert table[0].split()[:3] == ["value", "stream", "metric"]
    assert any(line.startswith("app") and "deployment_frequency" in line and "Off track" in line for line in table)


def test_filters(project):
    r = run_cli("metrics", project, "--format", "json", "--value-stream", "shop", "--metric", "flow_time", "--metric", "deployment_frequency")
    figs = json.loads(r.stdout)["figures"]
    assert sorted((f["value_stream"], f["metric"]) for f in figs) == [("shop", "deployment_frequency"), ("shop", "flow_time")]
    # --period picks that period's value and judges it against the same target.
    r = run_cli("metrics", project, "--format", "json", "--metric", "flow_time", "--period", "2026-07")
    july = {f["value_stream"]: f for f in json.loads(r.stdout)["figures"]}
    assert july["shop"]["value"] == pytest.approx(4.5) and july["shop"]["status"] == "on-track"  # 7 and 2 days
    assert july["app"]["value"] is None and july["app"]["status"] == "no-data"
    r = run_cli("metrics", project, "--format", "json", "--metric", "deployment_frequency", "--period", "window")
    assert {f["period"] for f in json.loads(r.stdout)["figures"]} == {"window"}


@pytest.mark.parametrize("args, fails", [
    (("--fail-on", "off-track", "--value-stream", "shop", "--metric", "deployment_frequency"), False),  # at risk only
    (("--fail-on", "at-risk", "--value-stream", "shop", "--metric", "deployment_frequency"), True),
    (("--fail-on", "off-track", "--value-stream", "app"), True),
    (("--fail-on", "off-track", "--metric", "flow_velocity"), False),  # no target never fails
])
def test_fail_on_exits_3(project, args, fails):
    r = run_cli("metrics", project, *args)
    assert r.exit_code == (3 if fails else 0), r.output
    if fails:
        assert "Target missed:" in r.stderr


def test_unknown_filter_is_a_user_error(project):
    r = run_cli("metrics", project, "--metric", "lead_tme", "--value-stream", "shop")
    assert r.exit_code == 1
    assert "expected a known metric, got 'lead_tme'" in r.stderr
    r = run_cli("metrics", project, "--period", "2020-01")
    assert r.exit_code == 1 and "expected a known period" in r.stderr and "2026-09" in r.stderr


def test_broken_project_is_exit_1_not_3(tmp_path):
    project = small_project(tmp_path / "p")
    (project / "data" / "deployments.csv").unlink()
    r = run_cli("metrics", project, "--fail-on", "off-track")
    assert r.exit_code == 1, r.output
