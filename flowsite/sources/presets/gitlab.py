"""GitLab API v4 responses (`format: gitlab`) as deployments and changes.

Point `path` at the saved responses; objects are recognised by shape (deployments, merge requests,
merge-request commits), so one glob can hold them all.

- `deployments`: `/projects/:id/deployments`. Finished at the deploy job's `finished_at`
  (`deployable.finished_at`), or `updated_at` for a successful deployment created through the API
  (no job). `status` is the result (success, failed, canceled, …); `environment.name` the environment.
- `changes`: merged merge requests (`/projects/:id/merge_requests?state=merged`). The first commit is
  the oldest of the MR's commit list (`/merge_requests/:iid/commits` lists newest first, starting with
  the MR's `sha`); without it, the MR's creation. Deployed by the deployment of its merge (or squash)
  commit, else the first successful production deployment of the same project after the merge.

Options: `project` (path such as `group/app`, when the dump has no URLs), `environment` is read from
each deployment.
"""
from __future__ import annotations

import re
from typing import Any

from ...config import Config, SourceSpec
from ...errors import Problem, SourceError
from .._model import FILE, ROW, RawFrame
from . import register
from ._common import Record, ValueStreams, build_frame, get, link_deployments, parse_iso, read_json_records, wrong_dataset


def classify(d: dict[str, Any]) -> str | None:
    if "deployable" in d and "environment" in d:
        return "deployment"
    if "iid" in d and "merged_at" in d and "target_branch" in d:
        return "merge_request"
    if "short_id" in d and ("authored_date" in d or "committed_date" in d):
        return "commit"
    return None


def project_of(d: dict[str, Any], default: str | None) -> str | None:
    """group/project from references.full (`group/app!12`), the job's project, or a web URL."""
    full = get(d, "references", "full")
    if full:
        return re.split(r"[!#]", full)[0]
    path = get(d, "deployable", "project", "path_with_namespace")
    if path:
        return path
    url = d.get("web_url") or get(d, "deployable", "web_url") or ""
    m = re.match(r"https?://[^/]+/(.+?)(?:/-/|$)", url)
    return m.group(1) if m else default


@register("gitlab")
def gitlab(config: Config, spec: SourceSpec) -> RawFrame:
    if spec.dataset not in ("deployments", "changes"):
        raise wrong_dataset(spec, "gitlab", ("deployments", "changes"))
    by_kind: dict[str, list[Record]] = {}
    for rec in read_json_records(config, spec):
        kind = classify(rec.data)
        if kind:
            by_kind.setdefault(kind, []).append(rec)
    default_project = spec.options.get("project")
    deployments = []
    for rec in by_kind.get("deployment", []):
        d = rec.data
        status = str(d.get("status") or "").lower() or None
        finished = get(d, "deployable", "finished_at") or (d.get("updated_at") if status == "success" else None)
        deployments.append({FILE: rec.file, ROW: rec.row, "id": str(d.get("id")), "_repo": project_of(d, default_project), "environment": get(d, "environment", "name"), "started_at": get(d, "deployable", "started_at") or d.get("created_at"), "finished_at": finished, "result": status, "commit_sha": d.get("sha")})
    if spec.dataset == "deployments":
        if not deployments:
            raise SourceError(problems=[Problem("expected GitLab deployments (objects with environment and deployable), found none", file=spec.path, hint="save the responses of /projects/:id/deployments")])
        rows = deployments
    else:
        heads = {get(m.data, "sha") for m in by_kind.get("merge_request", [])} - {None}
        firsts: dict[str, str] = {}
        group: list[dict[str, Any]] = []
        head: str | None = None
        last_file = None
        # A commit list starts at the MR's head and runs back to its first commit.
        for rec in by_kind.get("commit", []) + [None]:
            boundary = rec is None or rec.file != last_file or rec.data.get("id") in heads
            if boundary and head and group:
                times = [t for t in (c.get("authored_date") or c.get("created_at") for c in group) if t]
                if times:
                    firsts[head] = min(times, key=lambda t: parse_iso(t) or parse_iso("9999-01-01T00:00:00+00:00"))
            if rec is None:
                break
            if boundary:
                group, head, last_file = [], rec.data.get("id") if rec.data.get("id") in heads else None, rec.file
            group.append(rec.data)
        rows = []
        for rec in by_kind.get("merge_request", []):
            d = rec.data
            if not d.get("merged_at"):
                continue
            project = project_of(d, default_project)
            rows.append({FILE: rec.file, ROW: rec.row, "id": f"{project}!{d.get('iid')}" if project else str(d.get("iid")), "_repo": project, "_labels": [x if isinstance(x, str) else get(x, "name") for x in d.get("labels") or []], "first_commit_at": firsts.get(d.get("sha")) or d.get("created_at"), "merged_at": d.get("merged_at"), "commit_sha": d.get("squash_commit_sha") or d.get("merge_commit_sha") or d.get("sha")})
        link_deployments(rows, deployments, config.environments)
    vs = ValueStreams(config, spec)
    for r in rows:
        r["value_stream"] = vs(repos=[r.pop("_repo", None)], labels=r.pop("_labels", []))
    return build_frame(spec, rows, spec.path or "", dedupe="id")
