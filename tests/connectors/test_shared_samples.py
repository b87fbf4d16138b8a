"""The real sample exports in ../shared/formats load through their presets without error.

The samples are not ours to ship, so they are read in place; the test skips where they are absent.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flowsite.config import load_config
from flowsite.sources import load_sources

FORMATS = Path(__file__).resolve().parents[2] / ".." / "shared" / "formats"
pytestmark = pytest.mark.skipif(not FORMATS.is_dir(), reason="../shared/formats (sample exports) is not beside the repository")

REST = "jira/rest-api/devlake-e2e.raw_jira_api_"
CASES = [
    ("work_items", {"path": "jira/csv-cloud-en/Jira.csv", "format": "jira-csv"}, 68),
    ("work_items", {"path": "jira/csv-cloud-es/Jira.csv", "format": "jira-csv"}, 5),
    ("work_items", {"path": REST + "issues.data.jsonl", "format": "jira-json", "options": {"statuses": REST + "status.data.jsonl"}}, 33),
    ("status_changes", {"path": REST + "issues.data.jsonl", "format": "jira-json", "options": {"statuses": REST + "status.data.jsonl"}}, None),
    ("work_items", {"path": REST + "issue_relationships.data.jsonl", "format": "jira-json"}, 22),
    ("status_changes", {"path": REST + "issue_relationships.data.jsonl", "format": "jira-json"}, None),
    ("deployments", {"path": "github/openapi-example.deployment*.json", "format": "github"}, None),
    ("deployments", {"path": "github/pygithub-replay.*.json", "format": "github"}, None),
    ("deployments", {"path": "github/openapi-example.release-items.json", "format": "github"}, 1),
    ("deployments", {"path": "github/openapi-example.tag-items.json", "format": "github"}, None),
    ("deployments", {"path": "github/*runs*", "format": "github", "options": {"workflow": "CodeQL, CI, Build"}}, None),
    ("changes", {"path": "github/devlake-e2e.raw_github_api_pull*.jsonl", "format": "github"}, None),
    ("changes", {"path": "github/openapi-example.pull-request*.json", "format": "github"}, None),
    ("deployments", {"path": "gitlab/*.jsonl", "format": "gitlab"}, 8),
    ("changes", {"path": "gitlab/*.jsonl", "format": "gitlab"}, None),
    ("incidents", {"path": "pagerduty/devlake-e2e.raw_pagerduty_incidents.data.jsonl", "format": "pagerduty"}, 3),
    ("incidents", {"path": "pagerduty/openapi-example.list-incidents.json", "format": "pagerduty"}, 1),
    ("incidents", {"path": "pagerduty/openapi-example.analytics-raw-incidents.json", "format": "pagerduty"}, None),
    ("incidents", {"path": "opsgenie/*.jsonl", "format": "opsgenie"}, 2),
]


@pytest.mark.parametrize("dataset, source, expected_rows", CASES, ids=[f"{d}:{s['format']}:{Path(s['path']).name}" for d, s, _ in CASES])
def test_sample_loads(tmp_path, dataset, source, expected_rows):
    source = {**source, "path": str(FORMATS.resolve() / source["path"])}
    if "statuses" in source.get("options", {}):
        source["options"] = {**source["options"], "statuses": str(FORMATS.resolve() / source["options"]["statuses"])}
    config = {
        "name": "Samples",
        "value_streams": [{"id": "all"}],  # one value stream, no rules: every row belongs to it
        # The DevLake Jira sample carries Xray and custom types; a user maps them like this.
        "types": {"feature": ["Test Execution", "Test", "Test Plan", "Test Set", "Precondition", "Requirement"]},
        "sources": {dataset: source},
    }
    (tmp_path / "flowsite.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    loaded = load_sources(load_config(tmp_path))
    report = loaded.reports[dataset]
    assert report.rows_read > 0
    if expected_rows is not None:
        assert report.rows_read == expected_rows
    assert report.rows_used == loaded.frames[dataset].height
