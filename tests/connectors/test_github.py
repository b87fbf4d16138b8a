"""GitHub preset: deployments + statuses, releases, tags, workflow runs, pull requests + commits."""
from __future__ import annotations

import pytest

from flowsite.config import load_config
from flowsite.errors import SourceError
from flowsite.sources import load_sources

from ._support import rows, utc

CHECKOUT = {"path": "data/github/checkout/**/*.json*", "format": "github"}


def test_deployments_finish_at_their_first_success(project):
    frame, report = project.load("deployments", CHECKOUT)
    deps = rows(frame)
    assert sorted(deps) == ["1001", "1002", "1003", "1005"]
    first = deps["1001"]  # statuses come newest first; two successes: the earlier one counts
    assert first == {"id": "1001", "value_stream": "checkout", "finished_at": utc(2026, 3, 2, 10, 12), "environment": "production", "result": "success", "commit_sha": "a" * 40, "started_at": utc(2026, 3, 2, 10, 0)}
    assert (deps["1002"]["result"], deps["1002"]["finished_at"]) == ("failure", utc(2026, 3, 4, 10, 20))
    assert deps["1003"]["environment"] == "staging"
    assert deps["1005"]["environment"] == "production"  # "Production" in the API, lower-cased
    # 1004 only ever reached in_progress: not finished, dropped with its reason.
    assert report.dropped == {"missing finished_at": 1}


def test_pull_requests_become_changes_linked_to_deployments(project):
    frame, _ = project.load("changes", CHECKOUT)
    changes = rows(frame)
    assert sorted(changes) == ["acme/checkout-web#41", "acme/checkout-web#42", "acme/checkout-web#44"]  # #43 closed unmerged
    pr41 = changes["acme/checkout-web#41"]
    # First commit: the oldest commit of the list ending at the PR's head; deployed by the deployment of its merge commit.
    assert pr41 == {"id": "acme/checkout-web#41", "value_stream": "checkout", "first_commit_at": utc(2026, 2, 27, 9, 0), "merged_at": utc(2026, 3, 1, 18, 0), "deployed_at": utc(2026, 3, 2, 10, 12), "deployment_id": "1001", "commit_sha": "a" * 40}
    pr42 = changes["acme/checkout-web#42"]  # its merge commit was never deployed alone: the next production success ships it
    assert (pr42["first_commit_at"], pr42["deployment_id"], pr42["deployed_at"]) == (utc(2026, 3, 2, 8, 0), "1005", utc(2026, 3, 8, 9, 0))
    pr44 = changes["acme/checkout-web#44"]  # no commit list saved: the PR's creation stands in
    assert (pr44["first_commit_at"], pr44["deployment_id"]) == (utc(2026, 3, 6, 7, 0), "1005")


def test_releases_are_deployments_at_published_at(project):
    frame, _ = project.load("deployments", {"path": "data/github/search/*.json", "format": "github"})
    assert frame.select("id", "value_stream", "finished_at", "environment", "result", "commit_sha").to_dicts() == [
        {"id": "acme/search-api@v1.1.0", "value_stream": "search", "finished_at": utc(2026, 2, 20, 9, 30), "environment": "production", "result": "success", "commit_sha": "8" * 40},
        # published_at, not created_at (the tagged commit's time); the sha comes from the tag list
        {"id": "acme/search-api@v1.2.0", "value_stream": "search", "finished_at": utc(2026, 3, 3, 16, 0), "environment": "production", "result": "success", "commit_sha": "b" * 40},
    ]  # the draft and the pre-release are not deployments


def test_prereleases_count_when_asked(project):
    frame, _ = project.load("deployments", {"path": "data/github/search/releases.json", "format": "github", "options": {"prereleases": "true"}})
    assert frame.get_column("id").to_list() == ["acme/search-api@v1.1.0", "acme/search-api@v1.2.0", "acme/search-api@v1.3.0-rc1"]


def test_tags_are_dated_by_their_commit(project):
    frame, report = project.load("deployments", {"path": "data/github/search/*.json", "format": "github", "options": {"deployments_from": "tags"}})
    assert frame.select("id", "finished_at", "commit_sha").to_dicts() == [{"id": "acme/search-api@v1.2.0", "finished_at": utc(2026, 3, 1, 7, 30), "commit_sha": "b" * 40}]
    assert report.dropped == {"missing finished_at": 1}  # v1.1.0's commit is not in the dump


def test_workflow_runs_by_name(project):
    frame, _ = project.load("deployments", {"path": "data/github/runs.json", "format": "github", "options": {"workflow": "Deploy"}})
    runs = rows(frame)
    # queued/in-progress runs and other workflows are skipped; "COMPLETED" in capitals still counts
    assert sorted(runs) == ["run-5001", "run-5002", "run-5003", "run-5004"]
    assert runs["run-5004"] == {"id": "run-5004", "value_stream": "mobile-app", "finished_at": utc(2026, 3, 5, 12, 9), "environment": "production", "result": "success", "commit_sha": "4" * 40, "started_at": utc(2026, 3, 5, 12, 0)}
    assert runs["run-5003"]["result"] == "failure" and runs["run-5001"]["result"] == "cancelled"


def test_workflow_runs_by_file_and_branch(project):
    frame, _ = project.load("deployments", {"path": "data/github/runs.json", "format": "github", "options": {"workflow": "deploy.yml", "branch": "hotfix"}})
    assert frame.get_column("id").to_list() == ["run-5002"]


def test_runs_without_a_workflow_name_are_refused(project):
    project.write({"deployments": {"path": "data/github/runs.json", "format": "github"}})
    with pytest.raises(SourceError) as err:
        load_sources(load_config(project.root))
    assert "which workflow deploys" in err.value.format() and "options.workflow" in err.value.format()


def test_without_value_streams_the_repository_names_one(project):
    frame, _ = project.load("deployments", CHECKOUT, value_streams=[])
    assert frame.get_column("value_stream").unique().to_list() == ["checkout-web"]
