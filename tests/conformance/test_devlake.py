"""flowsite's DevLake rules against Apache DevLake's own e2e fixtures (conformance README §1, §4).

Each test loads a fixture's input tables, runs flowsite's computation of that rule and compares the
result with DevLake's expected table exactly, by DevLake's comparison rules (rows matched by key,
listed columns as text, timestamps to the millisecond, integer minutes, empty = NULL).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from flowsite.config import load_config
from flowsite.metrics import compute_metrics
from flowsite.metrics import devlake as D
from flowsite.sources.load import load_sources
from flowsite.sources.presets import devlake as P
from tests.conftest import SHARED, write_project

PLUGINS = SHARED / "conformance" / "apache-devlake" / "backend" / "plugins"
pytestmark = pytest.mark.skipif(not PLUGINS.is_dir(), reason="../shared/conformance/apache-devlake is absent (the DevLake fixtures are not in this checkout)")
EVER = (dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc))


def table(rel: str, table_name: str | None = None) -> pl.DataFrame:
    """A fixture CSV, typed as flowsite reads DevLake's table of that name."""
    path = PLUGINS / rel
    name = table_name or path.stem
    return P.read_table(path, dates=P.DATES.get(name, ()))


def expected_columns(df: pl.DataFrame) -> list[str]:
    return [c for c in df.columns if not c.startswith("__")]


def assert_same(actual: pl.DataFrame, expected: pl.DataFrame, key: list[str], columns: list[str]) -> None:
    problems = D.diff_tables(actual, expected, key, columns)
    assert problems == [], "\n".join(problems)


LEAD = "dora/e2e/change_lead_time/"


def _pr_metrics() -> pl.DataFrame:
    return D.pr_metrics(
        "project1", table(LEAD + "project_mapping.csv"), table(LEAD + "pull_requests.csv"), table(LEAD + "pull_request_commits.csv"),
        table(LEAD + "pull_request_comments.csv"), table(LEAD + "cicd_deployment_commits.csv"), table(LEAD + "commits_diffs.csv"),
    )


def test_change_lead_time_matches_project_pr_metrics():
    expected = table(LEAD + "project_pr_metrics.csv", "pull_requests")
    cols = expected_columns(expected)
    assert len(cols) == 15 and expected.height == 6
    assert_same(_pr_metrics(), expected, ["id"], cols)


def test_deployment_generator_matches_cicd_deployment_commits():
    base = "dora/e2e/deployment_generator/"
    scopes = P.scopes_of(table(base + "project_mapping.csv"), "project1", "cicd_scopes")
    got = P.generate_deployment_commits(table(base + "cicd_pipelines.csv"), table(base + "cicd_pipeline_commits.csv"), table(base + "cicd_tasks.csv"), scopes)
    expected = table(base + "cicd_deployment_commits.csv")
    assert expected.height == 6
    assert_same(got, expected, ["id"], ["id", "cicd_scope_id", "cicd_deployment_id", "result", "repo_url", "environment", "started_date", "finished_date"])


def test_previous_successful_deployment_link():
    base = "dora/e2e/prev_success_deployment_commit/"
    scopes = P.scopes_of(table(base + "project_mapping.csv"), "project1", "cicd_scopes")
    before = table(base + "cicd_deployment_commits_before.csv", "cicd_deployment_commits")
    assert before.get_column("prev_success_deployment_commit_id").null_count() == before.height
    got = P.link_previous_success(before, scopes)
    expected = table(base + "cicd_deployment_commits_after.csv", "cicd_deployment_commits")
    assert expected.height == 16
    assert_same(got, expected, ["id"], ["id", "result", "started_date", "finished_date", "cicd_deployment_id", "cicd_scope_id", "repo_url", "environment", "prev_success_deployment_commit_id"])


INCIDENTS = "dora/e2e/connect_incident_to_deployment/"


def _incident_inputs():
    return (
        table(INCIDENTS + "raw_tables/project_mapping.csv"),
        table(INCIDENTS + "raw_tables/incidents.csv"),
        table(INCIDENTS + "prev_success_deployment_commit/cicd_deployment_commits_after.csv", "cicd_deployment_commits"),
    )


def test_incident_attribution_matches_relationships():
    mapping, incidents, commits = _incident_inputs()
    got = D.incident_deployments("project1", mapping, incidents, commits)
    expected = table(INCIDENTS + "snapshot_tables/project_incident_deployment_relationships.csv")
    assert expected.height == 6
    assert_same(got, expected, ["id"], ["id", "project_name", "deployment_id"])


def test_deployment_commit_diff():
    base = "refdiff/e2e/deployment_commit_diff/"
    scopes = P.scopes_of(table(base + "project_mapping.csv"), "project1", "cicd_scopes")
    got = P.commits_diff(table(base + "cicd_deployment_commits.csv"), table(base + "commit_parents.csv"), scopes)
    assert_same(got, table(base + "commits_diffs.csv"), ["new_commit_sha", "old_commit_sha", "commit_sha"], ["new_commit_sha", "old_commit_sha", "commit_sha", "sorting_index"])
    finished = got.select("new_commit_sha", "old_commit_sha").unique()
    assert_same(finished, table(base + "_tool_refdiff_finished_commits_diffs.csv"), ["new_commit_sha", "old_commit_sha"], ["new_commit_sha", "old_commit_sha"])


def test_issue_status_history():
    base = "issue_trace/e2e/"
    boards = table(base + "raw_tables/board_issues.csv").filter(pl.col("board_id") == "jira:JiraBoard:2:8")
    issues = table(base + "raw_tables/issues.csv").join(boards.select(pl.col("issue_id").alias("id")), on="id", how="semi")
    got = P.status_history(issues, table(base + "raw_tables/issue_changelogs.csv"))
    expected = P.read_table(PLUGINS / base / "snapshot_tables/issue_status_history.csv", dates=("start_date",))
    assert expected.height == 200
    assert_same(got, expected, ["issue_id", "start_date"], ["issue_id", "original_status", "start_date", "status", "is_current_status", "is_first_status"])


def test_section4_aggregates_on_devlake_tables():
    """README §4: lead time lower median 4478 min over pr1-pr3; CFR 2/5 = 40 %."""
    minutes, n = D.lead_time_minutes(_pr_metrics(), table(LEAD + "cicd_deployment_commits.csv"), *EVER)
    assert (minutes, n) == (4478, 3)
    mapping, incidents, commits = _incident_inputs()
    deps = D.deployments("project1", mapping, commits)
    assert deps.get_column("id").to_list() == ["pipeline1", "pipeline2", "pipeline4", "pipeline6", "pipeline7"]
    rels = D.incident_deployments("project1", mapping, incidents, commits)
    assert D.change_failure_rate(deps, rels, *EVER) == (40.0, 2, 5)


def _project(tmp_path: Path, folder: Path, datasets: tuple[str, ...], options: str, as_of: str) -> Path:
    sources = "".join(f"  {ds}: {{path: '{folder}', format: devlake, options: {options}}}\n" for ds in datasets)
    config = (
        "name: DevLake fixtures\nperiod: month\nwindow: 3\n"
        f"as_of: {as_of}\ntimezone: UTC\nprofile: devlake\nbenchmark: devlake-2023\nenvironments: [production]\n"
        f"sources:\n{sources}value_streams:\n  - {{id: project1, name: Project 1}}\n"
    )
    return write_project(tmp_path / "p", config)


def test_preset_and_devlake_profile_reproduce_the_lead_time(tmp_path):
    """The real build path: DevLake tables -> `format: devlake` preset -> devlake profile."""
    config = load_config(_project(tmp_path, (PLUGINS / LEAD).resolve(), ("changes", "deployments"), "{project: project1}", "2023-04-30"))
    data = load_sources(config)
    changes = data.get("changes")
    assert sorted(changes.get_column("id").to_list()) == ["pr0", "pr1", "pr2", "pr3", "pr4", "pr5"]  # pr6 is not merged
    results = compute_metrics(config, data.frames)
    hours, n = results.value("project1", "lead_time", "window")
    assert n == 3 and hours == pytest.approx(4478 / 60)
    lt = results.drilldown["changes"].filter(pl.col("excluded").is_null())
    assert dict(lt.select("id", "lead_time_minutes").iter_rows()) == {"pr1": 4478, "pr2": 1598, "pr3": 10203}
    assert results.tier("project1", "lead_time") == "high"


def test_preset_and_devlake_profile_reproduce_the_failure_rate(tmp_path):
    opts = "{project: project1, project_mapping: raw_tables/project_mapping.csv, cicd_deployment_commits: prev_success_deployment_commit/cicd_deployment_commits_after.csv, incidents: raw_tables/incidents.csv}"
    config = load_config(_project(tmp_path, (PLUGINS / INCIDENTS).resolve(), ("deployments", "incidents"), opts, "2022-11-30"))
    data = load_sources(config)
    assert data.get("incidents").height == 6  # the repo3 incident belongs to project2
    results = compute_metrics(config, data.frames)
    value, n = results.value("project1", "change_failure_rate", "window")
    assert (value, n) == (40.0, 5)
    assert results.tier("project1", "change_failure_rate") == "low"


def test_preset_reads_the_issue_trace_export_into_flow_datasets(tmp_path):
    folder = (PLUGINS / "issue_trace/e2e").resolve()
    opts = "{status: standard, issues: raw_tables/issues.csv, issue_changelogs: raw_tables/issue_changelogs.csv}"
    config = (
        "name: Issues\nperiod: quarter\nwindow: 4\nas_of: 2021-03-31\ntimezone: UTC\n"
        "statuses: {waiting: [等待, 待开发], active: [开发中], done: [完成]}\n"
        "types: {debt: [SUB-TASK, TEST EXECUTION]}\n"
        f"sources:\n  work_items: {{path: '{folder}', format: devlake, value_stream: board8, options: {opts}}}\n"
        f"  status_changes: {{path: '{folder}', format: devlake, value_stream: board8, options: {opts}}}\n"
        "value_streams:\n  - {id: board8, name: Board 8}\n"
    )
    cfg = load_config(write_project(tmp_path / "p", config))
    data = load_sources(cfg)
    assert data.get("work_items").height == 32
    # One status change per DevLake status-history interval (the fixture's 200 rows), except the
    # one interval that has no status (a TAPD story whose first change came from an empty status).
    assert data.get("status_changes").height == 199
    results = compute_metrics(cfg, data.frames)
    velocity = results.figures.filter((pl.col("metric") == "flow_velocity") & (pl.col("period") == "window"))
    assert velocity.height == 1 and velocity.get_column("n")[0] > 0
