"""GitHub REST v3 responses (`format: github`) as deployments and changes.

Point `path` at the saved responses (a folder glob such as `data/github/**/*.json`); each object is
recognised by its shape, so one glob can hold deployments, deployment statuses, releases, tags,
workflow runs, pull requests and pull-request commits.

- `deployments`: GitHub deployments, finished at their first `success` status (a deployment with
  only `failure`/`error` statuses is a failed deployment, finished at the first of those);
  or releases (`published_at`; drafts and pre-releases skipped); or tags (dated by their commit in
  the same dump); or workflow runs named in `options.workflow`. By default the first kind present in
  that order is used; `options.deployments_from` picks one explicitly.
- `changes`: merged pull requests. The first commit is the oldest commit of the PR's commit list
  (a list ends with the PR's head commit, which is how lists are matched to PRs); without it, the
  PR's creation. A change is deployed by the deployment of its merge commit, else by the first
  successful production deployment of the same repository after the merge.

Options: `workflow` (names or file paths of workflows, comma-separated), `branch` (runs on this
branch only), `deployments_from` (deployments | releases | tags | workflow_runs), `environment`
(environment given to releases, tags and runs; default: the first of `environments`),
`prereleases` (true to count pre-releases), `repo` (owner/name, when the dump has no URLs).
"""
from __future__ import annotations

import re
from typing import Any

from ...config import Config, SourceSpec
from ...errors import Problem, SourceError
from .._model import FILE, ROW, RawFrame
from . import register
from ._common import Record, ValueStreams, build_frame, get, link_deployments, option_list, parse_iso, read_json_records, repo_from_url, wrong_dataset

KINDS = ("deployments", "releases", "tags", "workflow_runs")
FAILED = {"failure", "error"}


def classify(d: dict[str, Any]) -> str | None:
    if "workflow_id" in d and "run_number" in d:
        return "workflow_run"
    if "tag_name" in d:
        return "release"
    if "state" in d and ("deployment_url" in d or re.search(r"/deployments/\d+/statuses", str(d.get("url", "")))):
        return "deployment_status"
    if "task" in d and "environment" in d and "sha" in d:
        return "deployment"
    if "number" in d and "merged_at" in d and "head" in d:
        return "pull_request"
    if "sha" in d and isinstance(d.get("commit"), dict) and ("author" in d["commit"] or "committer" in d["commit"]):
        return "commit"
    if "name" in d and isinstance(d.get("commit"), dict) and "sha" in d["commit"]:
        return "tag"
    return None


class Dump:
    """The records of a GitHub dump, sorted by kind."""

    def __init__(self, config: Config, spec: SourceSpec):
        self.config, self.spec = config, spec
        self.by_kind: dict[str, list[Record]] = {}
        for rec in read_json_records(config, spec):
            kind = classify(rec.data)
            if kind:
                self.by_kind.setdefault(kind, []).append(rec)
        self.default_repo = spec.options.get("repo")
        self.environment = spec.options.get("environment") or (config.environments[0] if config.environments else "production")

    def kind(self, name: str) -> list[Record]:
        return self.by_kind.get(name, [])

    def repo(self, d: dict[str, Any]) -> str | None:
        return get(d, "base", "repo", "full_name") or get(d, "repository", "full_name") or repo_from_url(d.get("url")) or repo_from_url(d.get("html_url")) or self.default_repo

    def deployment_rows(self) -> list[dict[str, Any]]:
        chosen = self.spec.options.get("deployments_from")
        if chosen and chosen not in KINDS:
            raise SourceError(problems=[Problem(f"expected one of {', '.join(KINDS)}, got {chosen!r}", key=f"sources.{self.spec.dataset}.options.deployments_from")])
        workflows = option_list(self.spec, "workflow")
        if not chosen:
            present = {"deployments": "deployment", "releases": "release", "tags": "tag", "workflow_runs": "workflow_run"}
            chosen = next((k for k in KINDS if self.kind(present[k]) and (k != "workflow_runs" or workflows)), None)
        if chosen is None:
            if self.kind("workflow_run"):
                raise SourceError(problems=[Problem("the GitHub dump holds only workflow runs; which workflow deploys?", key=f"sources.{self.spec.dataset}.options.workflow", hint="set options: {workflow: Deploy} (the workflow's name or file)")])
            raise SourceError(problems=[Problem("expected GitHub deployments, releases, tags or workflow runs, found none", file=self.spec.path, hint="save the responses of /repos/{owner}/{repo}/deployments (+ /statuses), /releases or /actions/runs")])
        return {"deployments": self._deployments, "releases": self._releases, "tags": self._tags, "workflow_runs": self._runs}[chosen]()

    def _deployments(self) -> list[dict[str, Any]]:
        statuses: dict[str, list[dict[str, Any]]] = {}
        for rec in self.kind("deployment_status"):
            m = re.search(r"/deployments/(\d+)", str(rec.data.get("deployment_url") or rec.data.get("url") or ""))
            if m:
                statuses.setdefault(m.group(1), []).append(rec.data)
        have_statuses = bool(statuses)
        rows = []
        for rec in self.kind("deployment"):
            d = rec.data
            sts = sorted(statuses.get(str(d.get("id")), []), key=lambda s: parse_iso(s.get("created_at")) or parse_iso("9999-01-01T00:00:00+00:00"))
            success = next((s for s in sts if s.get("state") == "success"), None)
            failed = next((s for s in sts if s.get("state") in FAILED), None)
            if success:
                finished, result = success.get("created_at"), "success"
            elif failed:
                finished, result = failed.get("created_at"), "failure"
            elif not have_statuses:
                finished, result = d.get("created_at"), None  # no statuses saved at all: the deployment's own time
            else:
                finished, result = None, (sts[-1].get("state") if sts else None)  # still pending: not finished
            rows.append({FILE: rec.file, ROW: rec.row, "id": str(d.get("id")), "_repo": self.repo(d), "environment": d.get("environment"), "started_at": d.get("created_at"), "finished_at": finished, "result": result, "commit_sha": d.get("sha")})
        return rows

    def _releases(self) -> list[dict[str, Any]]:
        pre = str(self.spec.options.get("prereleases", "false")).lower() in ("true", "yes", "1")
        tags = {get(t.data, "name"): get(t.data, "commit", "sha") for t in self.kind("tag")}
        rows = []
        for rec in self.kind("release"):
            d = rec.data
            if d.get("draft") or (d.get("prerelease") and not pre) or not d.get("published_at"):
                continue
            target = d.get("target_commitish") or ""
            sha = target if re.fullmatch(r"[0-9a-f]{40}", target) else tags.get(d.get("tag_name"))
            repo = self.repo(d)
            rows.append({FILE: rec.file, ROW: rec.row, "id": f"{repo}@{d.get('tag_name')}" if repo else d.get("tag_name"), "_repo": repo, "environment": self.environment, "finished_at": d.get("published_at"), "result": "success", "commit_sha": sha})
        return rows

    def _tags(self) -> list[dict[str, Any]]:
        dated = {c.data["sha"]: get(c.data, "commit", "committer", "date") or get(c.data, "commit", "author", "date") for c in self.kind("commit")}
        rows = []
        for rec in self.kind("tag"):
            d = rec.data
            sha = get(d, "commit", "sha")
            repo = self.repo(d.get("commit") or {}) or self.default_repo
            rows.append({FILE: rec.file, ROW: rec.row, "id": f"{repo}@{d.get('name')}" if repo else d.get("name"), "_repo": repo, "environment": self.environment, "finished_at": dated.get(sha), "result": "success", "commit_sha": sha})
        return rows

    def _runs(self) -> list[dict[str, Any]]:
        names = {w.lower() for w in option_list(self.spec, "workflow")}
        branch = self.spec.options.get("branch")
        rows = []
        for rec in self.kind("workflow_run"):
            d = rec.data
            path = str(d.get("path") or "").split("@")[0]
            if names and not ({str(d.get("name") or "").lower(), path.lower(), path.rsplit("/", 1)[-1].lower()} & names):
                continue
            if branch and d.get("head_branch") != branch:
                continue
            if str(d.get("status") or "").lower() != "completed":
                continue
            conclusion = str(d.get("conclusion") or "").lower()
            result = "failure" if conclusion in ("failure", "timed_out", "startup_failure") else conclusion or None
            rows.append({FILE: rec.file, ROW: rec.row, "id": f"run-{d.get('id')}", "_repo": get(d, "repository", "full_name") or self.repo(d), "environment": self.environment, "started_at": d.get("run_started_at") or d.get("created_at"), "finished_at": d.get("updated_at"), "result": result, "commit_sha": d.get("head_sha")})
        return rows

    def first_commits(self) -> dict[str, str]:
        """PR head sha -> time of the PR's oldest commit. GitHub lists a PR's commits oldest first."""
        heads = {get(p.data, "head", "sha") for p in self.kind("pull_request")} - {None}
        out: dict[str, str] = {}
        group: list[dict[str, Any]] = []
        last_file = None
        for rec in self.kind("commit"):
            if rec.file != last_file:
                group, last_file = [], rec.file
            group.append(rec.data)
            if rec.data.get("sha") in heads:
                times = [t for t in (get(c, "commit", "author", "date") or get(c, "commit", "committer", "date") for c in group) if t]
                if times:
                    out[rec.data["sha"]] = min(times, key=lambda t: parse_iso(t) or parse_iso("9999-01-01T00:00:00+00:00"))
                group = []
        return out


@register("github")
def github(config: Config, spec: SourceSpec) -> RawFrame:
    if spec.dataset not in ("deployments", "changes"):
        raise wrong_dataset(spec, "github", ("deployments", "changes"))
    dump = Dump(config, spec)
    vs = ValueStreams(config, spec)
    if spec.dataset == "deployments":
        rows = dump.deployment_rows()
    else:
        firsts = dump.first_commits()
        rows = []
        for rec in dump.kind("pull_request"):
            d = rec.data
            if not d.get("merged_at"):
                continue  # closed without merging (or still open): not a change that can ship
            repo = dump.repo(d)
            labels = [get(x, "name") for x in d.get("labels") or []]
            rows.append({FILE: rec.file, ROW: rec.row, "id": f"{repo}#{d.get('number')}" if repo else str(d.get("number")), "_repo": repo, "_labels": labels, "first_commit_at": firsts.get(get(d, "head", "sha")) or d.get("created_at"), "merged_at": d.get("merged_at"), "commit_sha": d.get("merge_commit_sha")})
        if any(dump.kind(k) for k in ("deployment", "release", "tag", "workflow_run")):
            try:
                link_deployments(rows, dump.deployment_rows(), config.environments)
            except SourceError:
                pass  # runs present but no workflow named: changes stand alone
    for r in rows:
        r["value_stream"] = vs(repos=[r.pop("_repo", None)], labels=r.pop("_labels", []))
    return build_frame(spec, rows, spec.path or "", dedupe="id")
