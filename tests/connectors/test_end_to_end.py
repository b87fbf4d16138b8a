"""Real exports in, figures out: a project fed only by presets builds, and its figures follow from the fixtures."""
from __future__ import annotations

import polars as pl
import pytest

from flowsite._build import check

from ..conftest import run_cli

JIRA = {"path": "data/jira/search.json", "format": "jira-json", "options": {"statuses": "data/jira/status.json", "changelogs": "data/jira/changelogs/*.json"}}
GITHUB = {"path": "data/github/checkout/**/*.json*", "format": "github"}
SOURCES = {
    "work_items": JIRA,
    "status_changes": JIRA,
    "deployments": GITHUB,
    "changes": GITHUB,
    "incidents": {"path": "data/pagerduty/incidents.json", "format": "pagerduty"},
    "survey_responses": {"path": "data/surveys/google-forms.csv", "format": "google-forms"},
}


def test_presets_feed_the_scorecards(project, tmp_path):
    project.write(SOURCES, as_of="2026-03-31", window=3)
    figures = check(project.root).results.figures.filter(pl.col("period") == "2026-03")

    def fig(vs: str, metric: str) -> tuple[float, int]:
        row = figures.filter((pl.col("value_stream") == vs) & (pl.col("metric") == metric))
        return round(row.get_column("value")[0], 4), row.get_column("n")[0]

    # GitHub: 1001 and 1005 are the successful production deployments.
    assert fig("checkout", "deployment_frequency")[1] == 2
    # PRs 41 and 42 started before the first observed deployment; PR 44: 03-06 07:00 -> 1005 at 03-08 09:00.
    assert fig("checkout", "lead_time") == (50.0, 1)
    # PagerDuty: Q1AAA follows deployment 1001 and was resolved in 1.5 h; 1 of the 2 deployments failed.
    assert fig("checkout", "change_failure_rate") == (50.0, 2)
    assert fig("checkout", "recovery_time") == (1.5, 1)
    # Google Forms: (7+6+5+4+6+6)/6 and (2+3+6+6+1+5)/6.
    assert fig("checkout", "westrum") == (pytest.approx(5.6667, abs=1e-4), 1)
    assert fig("search", "westrum") == (pytest.approx(3.8333, abs=1e-4), 1)
    # Jira: CHK-30 and OPS-2 were done in March.
    assert fig("checkout", "flow_velocity") == (2.0, 2)

    result = run_cli("build", project.root, "--out", tmp_path / "site")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "site" / "2026-03" / "value-streams" / "checkout" / "index.html").is_file()
