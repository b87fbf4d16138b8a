"""GitLab preset: deployments (job finish time, API-created ones) and merge requests with their commits."""
from __future__ import annotations

from ._support import rows, utc

GITLAB = {"path": "data/gitlab/*", "format": "gitlab", "options": {"project": "acme/web-shop"}}


def test_deployments(project):
    frame, report = project.load("deployments", GITLAB)
    deps = rows(frame)
    assert deps["701"] == {"id": "701", "value_stream": "checkout", "finished_at": utc(2026, 3, 2, 10, 12, 30, 250000), "environment": "production", "result": "success", "commit_sha": "a" * 40, "started_at": utc(2026, 3, 2, 10, 1)}
    assert (deps["702"]["result"], deps["702"]["finished_at"]) == ("failure", utc(2026, 3, 3, 10, 4))
    assert deps["703"]["environment"] == "staging"
    # Created through the API: no job, so a successful deployment finishes at updated_at.
    assert (deps["704"]["finished_at"], deps["704"]["value_stream"]) == (utc(2026, 3, 6, 15, 2), "checkout")
    assert report.dropped == {"missing finished_at": 1}  # 705 is still running


def test_merge_requests(project):
    frame, _ = project.load("changes", GITLAB)
    changes = rows(frame)
    assert sorted(changes) == ["acme/web-shop!5", "acme/web-shop!6"]  # !7 is still open
    mr5 = changes["acme/web-shop!5"]
    # Commits are listed newest first from the MR's sha; authored dates keep the author's offset.
    assert mr5 == {"id": "acme/web-shop!5", "value_stream": "checkout", "first_commit_at": utc(2026, 2, 26, 16, 30), "merged_at": utc(2026, 3, 1, 16, 0), "deployed_at": utc(2026, 3, 2, 10, 12, 30, 250000), "deployment_id": "701", "commit_sha": "a" * 40}
    mr6 = changes["acme/web-shop!6"]  # squashed: the squash commit is the change; shipped by the next production success
    assert (mr6["first_commit_at"], mr6["commit_sha"], mr6["deployment_id"]) == (utc(2026, 3, 2, 8, 15), "f" * 40, "704")
