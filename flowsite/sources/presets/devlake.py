"""Apache DevLake's domain layer (CSV exports named like its tables) -> flowsite's canonical datasets.

`format: devlake` with `path:` naming a folder that holds e.g. `pull_requests.csv`,
`pull_request_commits.csv`, `cicd_deployment_commits.csv`, `commits_diffs.csv`, `incidents.csv`,
`project_mapping.csv`, `issues.csv`, `issue_changelogs.csv`, `board_issues.csv`.

Besides the loader, this module holds DevLake's own *enrichment* rules, the ones that derive domain
tables from other domain tables (deployment commits from pipelines, the previous-successful-deployment
link, the commits each deployment shipped, the deployment of each pull request, issue status
history). They are written from the behaviour DevLake's e2e fixtures assert (see
docs/metrics/profiles.md) so that a DevLake export missing a derived table can still be read, and so
that the conformance tests can check each rule against DevLake's expected output.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from ...config import Config, SourceSpec
from ...errors import Problem, SourceError
from .._model import FILE, ROW, RawFrame
from ..files import display_path
from . import register

UTC = pl.Datetime("us", "UTC")
OK = ("SUCCESS", "FAILURE")  # pipeline/task results that make a deployment (SKIPPED etc. do not)
# DevLake's standard issue types -> flow item types; other types pass through to `types:` in flowsite.yml.
FLOW_TYPES = {"REQUIREMENT": "feature", "BUG": "defect", "INCIDENT": "defect"}


# --- reading -------------------------------------------------------------------------------------

def parse_ts(col: str | pl.Expr) -> pl.Expr:
    """DevLake timestamps -> UTC datetimes.

    DevLake writes `2023-04-10T06:51:47.000+00:00` but its inputs also hold `2023-4-10 6:51:47`
    (not zero-padded, no zone: UTC). Empty text is null.
    """
    s = (pl.col(col) if isinstance(col, str) else col).cast(pl.String).str.strip_chars()
    s = s.str.replace(r"^(\d{4})-(\d)-", "${1}-0${2}-").str.replace(r"^(\d{4}-\d\d)-(\d)([ T])", "${1}-0${2}${3}")
    s = s.str.replace(r"^(\d{4}-\d\d-\d\d)[ T](\d):", "${1}T0${2}:").str.replace(r"^(\d{4}-\d\d-\d\d) ", "${1}T")
    s = s.str.replace(r"[zZ]$", "+00:00").str.replace(r"([+-]\d\d)(\d\d)$", "${1}:${2}")
    s = pl.when(s.str.contains(r"[+-]\d\d:\d\d$")).then(s).otherwise(s + "+00:00")
    return pl.when(s.str.len_chars() > 6).then(s.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us", time_zone="UTC"))


def _ts(df: pl.DataFrame, col: str) -> pl.Expr:
    """A timestamp column whether it is still DevLake text or already parsed."""
    return parse_ts(col) if df.schema[col] == pl.String else pl.col(col)


def format_ts(col: str | pl.Expr) -> pl.Expr:
    """The form DevLake's fixtures compare timestamps in: `YYYY-MM-DDTHH:MM:SS.mmm+00:00`."""
    e = pl.col(col) if isinstance(col, str) else col
    return e.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.3f+00:00")


def read_table(path: Path, *, dates: tuple[str, ...] = (), shown: str | None = None) -> pl.DataFrame:
    """One DevLake table exported as CSV: every column as text (empty = null), `dates` parsed as UTC,
    plus `__file` and `__row` (the line number, header = 1)."""
    shown = shown or path.name
    try:
        df = pl.read_csv(path, infer_schema=False, row_index_name=ROW, row_index_offset=2, encoding="utf8-lossy")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(problems=[Problem(f"cannot read DevLake table: {str(exc).splitlines()[0]}", file=shown, hint="export the table as CSV with a header row")]) from None
    df = df.with_columns(pl.col(ROW).cast(pl.Int64), pl.lit(shown).alias(FILE))
    df = df.with_columns([pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c) for c in df.columns if c not in (ROW, FILE)])
    bad = []
    for c in dates:
        if c in df.columns:
            parsed = df.select(parse_ts(c).alias("p"), pl.col(c), pl.col(ROW))
            wrong = parsed.filter(pl.col(c).is_not_null() & pl.col("p").is_null())
            bad += [Problem(f"expected a timestamp like 2023-04-10T06:51:47.000+00:00, got {v!r}", file=shown, row=r, column=c) for _, v, r in wrong.head(5).iter_rows()]
            df = df.with_columns(parsed.get_column("p").alias(c))
    if bad:
        raise SourceError(problems=bad)
    return df


def scopes_of(mapping: pl.DataFrame, project: str | None, table: str) -> list[str]:
    """Ids of a project's rows of one kind (`repos`, `cicd_scopes`, `boards`); all projects when None."""
    m = mapping.filter(pl.col("table") == table)
    if project is not None:
        m = m.filter(pl.col("project_name") == project)
    return m.get_column("row_id").unique().sort().to_list()


# --- DevLake's enrichment rules ------------------------------------------------------------------

def generate_deployment_commits(pipelines: pl.DataFrame, pipeline_commits: pl.DataFrame, tasks: pl.DataFrame | None, scopes: list[str]) -> pl.DataFrame:
    """Deployment commits from CI pipelines (DevLake's `generateDeploymentCommits`).

    A pipeline of the project's CI scopes with result SUCCESS or FAILURE is a deployment when its type is
    DEPLOYMENT or one of its SUCCESS/FAILURE tasks is; one row per pipeline commit. Its environment is
    the pipeline's, else PRODUCTION / STAGING / TESTING if a SUCCESS/FAILURE task has it (in that order).
    """
    p = pipelines.filter(pl.col("cicd_scope_id").is_in(scopes) & pl.col("result").is_in(OK))
    t = tasks.filter(pl.col("result").is_in(OK)) if tasks is not None else pl.DataFrame(schema={"pipeline_id": pl.String, "type": pl.String, "environment": pl.String})
    task_info = t.group_by("pipeline_id").agg(
        (pl.col("type") == "DEPLOYMENT").any().alias("_deploy_task"),
        *[(pl.col("environment") == env).any().alias(f"_{env}") for env in ("PRODUCTION", "STAGING", "TESTING")],
    )
    p = p.join(task_info, left_on="id", right_on="pipeline_id", how="left")
    p = p.filter((pl.col("type") == "DEPLOYMENT") | pl.col("_deploy_task").fill_null(False))
    env = pl.coalesce(
        pl.col("environment"),
        *[pl.when(pl.col(f"_{e}").fill_null(False)).then(pl.lit(e)) for e in ("PRODUCTION", "STAGING", "TESTING")],
    )
    finished = _ts(p, "finished_date")
    started = _ts(p, "started_date") if "started_date" in p.columns else pl.lit(None, dtype=UTC)
    by_duration = finished - pl.duration(seconds=pl.col("duration_sec").cast(pl.Float64, strict=False).fill_null(0))
    p = p.with_columns(env.alias("environment"), finished.alias("finished_date"), pl.coalesce(started, by_duration).alias("started_date"))
    out = pipeline_commits.join(p.select(pl.col("id").alias("pipeline_id"), "cicd_scope_id", "result", "environment", "started_date", "finished_date"), on="pipeline_id", how="inner")
    return out.select(
        pl.concat_str([pl.col("pipeline_id"), pl.lit(":"), pl.col("repo_url")]).alias("id"),
        "commit_sha", "cicd_scope_id", pl.col("pipeline_id").alias("cicd_deployment_id"), "result", "repo_url", "environment", "started_date", "finished_date",
    ).sort("id")


def link_previous_success(deployment_commits: pl.DataFrame, scopes: list[str]) -> pl.DataFrame:
    """Fill `prev_success_deployment_commit_id` (DevLake's `enrichPrevSuccessDeploymentCommits`).

    Among SUCCESS rows of the project's scopes with a finish time, an environment and a repo URL, each
    row points at the previous one of the same (scope, repo, environment) by finish time; every other
    row keeps an empty link.
    """
    dc = deployment_commits.with_row_index("_order")
    eligible = (
        (pl.col("result") == "SUCCESS") & pl.col("finished_date").is_not_null() & pl.col("environment").is_not_null()
        & pl.col("repo_url").is_not_null() & pl.col("cicd_scope_id").is_in(scopes)
    )
    sel = dc.filter(eligible).sort("cicd_scope_id", "repo_url", "environment", "finished_date", "_order")
    sel = sel.with_columns(pl.col("id").shift(1).over("cicd_scope_id", "repo_url", "environment").alias("_prev"))
    dc = dc.join(sel.select("_order", "_prev"), on="_order", how="left")
    return dc.with_columns(pl.col("_prev").alias("prev_success_deployment_commit_id")).drop("_order", "_prev")


def commits_diff(deployment_commits: pl.DataFrame, commit_parents: pl.DataFrame, scopes: list[str]) -> pl.DataFrame:
    """The commits each deployment commit shipped (DevLake refdiff's `calculateDeploymentCommitsDiff`).

    Commits reachable from the deployed commit through `commit_parents` and not reachable from the
    previous successful deployment's commit (no previous: everything reachable). `sorting_index` is
    the breadth-first walk order from the deployed commit (itself = 1). Each deployment walks the
    history, so this is for exports that lack DevLake's own `commits_diffs` table.
    """
    parents: dict[str, list[str]] = {}
    for child, parent in commit_parents.select("commit_sha", "parent_commit_sha").iter_rows():
        parents.setdefault(child, []).append(parent)

    def walk(start: str) -> list[str]:
        seen, order, queue = {start}, [start], [start]
        while queue:
            nxt = []
            for c in queue:
                for p in parents.get(c, ()):
                    if p not in seen:
                        seen.add(p)
                        order.append(p)
                        nxt.append(p)
            queue = nxt
        return order

    dc = deployment_commits.filter(pl.col("cicd_scope_id").is_in(scopes))
    sha_of = dict(deployment_commits.select("id", "commit_sha").iter_rows())
    rows = []
    pairs = set()
    for new, prev_id in dc.select("commit_sha", "prev_success_deployment_commit_id").iter_rows():
        old = sha_of.get(prev_id) if prev_id else None
        if new is None or (new, old) in pairs:
            continue
        pairs.add((new, old))
        known = set(walk(old)) if old else set()
        shipped = [c for c in walk(new) if c not in known]
        rows += [(new, old, c, i) for i, c in enumerate(shipped, start=1)]
    return pl.DataFrame(rows, schema={"new_commit_sha": pl.String, "old_commit_sha": pl.String, "commit_sha": pl.String, "sorting_index": pl.Int64}, orient="row")


def pr_deployments(pull_requests: pl.DataFrame, deployment_commits: pl.DataFrame, diffs: pl.DataFrame, scopes: list[str]) -> pl.DataFrame:
    """Each pull request with the deployment commit that first shipped its merge commit.

    Candidates are SUCCESS, PRODUCTION deployment commits of the project's CI scopes that have a
    previous successful deployment; the PR's merge commit must be in the commit range between the two.
    The earliest candidate by (started_date, id) wins. Returns id, deployment_commit_id,
    cicd_deployment_id, pr_deployed_date (that deployment commit's finish).
    """
    dc = deployment_commits
    prev = dc.select(pl.col("id").alias("prev_success_deployment_commit_id"), pl.col("commit_sha").alias("_old"))
    cand = (
        dc.filter((pl.col("result") == "SUCCESS") & (pl.col("environment") == "PRODUCTION") & pl.col("cicd_scope_id").is_in(scopes) & pl.col("prev_success_deployment_commit_id").is_not_null())
        .join(prev, on="prev_success_deployment_commit_id", how="inner")
        .join(diffs.select(pl.col("new_commit_sha").alias("commit_sha"), pl.col("old_commit_sha").alias("_old"), pl.col("commit_sha").alias("_shipped")), on=["commit_sha", "_old"], how="inner")
    )
    hit = (
        pull_requests.select("id", "merge_commit_sha")
        .join(cand.select(pl.col("_shipped").alias("merge_commit_sha"), pl.col("id").alias("deployment_commit_id"), "cicd_deployment_id", "started_date", pl.col("finished_date").alias("pr_deployed_date")), on="merge_commit_sha", how="inner")
        .sort("id", "started_date", "deployment_commit_id")
        .group_by("id", maintain_order=True).first()
    )
    return hit.select("id", "deployment_commit_id", "cicd_deployment_id", "pr_deployed_date")


def status_history(issues: pl.DataFrame, changelogs: pl.DataFrame) -> pl.DataFrame:
    """Intervals of each issue's statuses (DevLake issue_trace's `ConvertIssueStatusHistory`).

    The first interval holds the first change's from-status and starts at the issue's creation; each
    status change starts a new interval (an empty to-value repeats the previous status). An issue
    without changes has one interval from its own status (DevLake marks it first but not current).
    """
    ch = (
        changelogs.filter(pl.col("field_name") == "status").join(issues.select(pl.col("id").alias("issue_id")), on="issue_id", how="semi")
        .sort("issue_id", "created_date", "id")
    )
    first = ch.group_by("issue_id", maintain_order=True).first().join(issues.select(pl.col("id").alias("issue_id"), pl.col("created_date").alias("_created")), on="issue_id")
    head = first.select("issue_id", pl.col("original_from_value").alias("original_status"), pl.col("_created").alias("start_date"), pl.col("from_value").alias("status"), pl.lit(0, dtype=pl.Int64).alias("_seq"))
    steps = ch.select(
        "issue_id", pl.col("original_to_value").alias("original_status"), pl.col("created_date").alias("start_date"), pl.col("to_value").alias("status"),
        (pl.int_range(pl.len(), dtype=pl.Int64).over("issue_id") + 1).alias("_seq"),
    )
    hist = pl.concat([head, steps]).sort("issue_id", "_seq").with_columns(pl.col("status").forward_fill().over("issue_id"))
    hist = hist.with_columns(
        (pl.col("_seq") == 0).cast(pl.Int64).alias("is_first_status"),
        (pl.col("_seq") == pl.col("_seq").max().over("issue_id")).cast(pl.Int64).alias("is_current_status"),
    ).drop("_seq")
    lone = issues.join(ch.select(pl.col("issue_id").alias("id")).unique(), on="id", how="anti").select(
        pl.col("id").alias("issue_id"), "original_status", pl.col("created_date").alias("start_date"), "status",
        pl.lit(1, dtype=pl.Int64).alias("is_first_status"), pl.lit(0, dtype=pl.Int64).alias("is_current_status"),
    )
    return pl.concat([hist, lone.select(hist.columns)]).sort("issue_id", "start_date")


# --- the preset ----------------------------------------------------------------------------------

DATES = {
    "pull_requests": ("created_date", "merged_date", "closed_date"),
    "pull_request_commits": ("commit_authored_date",),
    "pull_request_comments": ("created_date",),
    "cicd_deployment_commits": ("started_date", "finished_date", "created_date"),
    "cicd_pipelines": ("created_date", "finished_date", "started_date"),
    "cicd_tasks": ("started_date", "finished_date"),
    "incidents": ("created_date", "updated_date", "resolution_date"),
    "issues": ("created_date", "updated_date", "resolution_date"),
    "issue_changelogs": ("created_date",),
}
NEEDS = {
    "deployments": ("cicd_deployment_commits",),
    "changes": ("pull_requests", "pull_request_commits"),
    "incidents": ("incidents",),
    "work_items": ("issues",),
    "status_changes": ("issue_changelogs",),
}


class _Folder:
    def __init__(self, config: Config, spec: SourceSpec):
        if not spec.path:
            raise SourceError(problems=[Problem("the devlake preset needs `path:` naming the folder of DevLake tables", file=str(config.config_file), key=f"sources.{spec.dataset}.path")])
        self.root = config.resolve(spec.path)
        self.config, self.spec = config, spec
        if not self.root.is_dir():
            raise SourceError(problems=[Problem("expected a folder of DevLake table exports (pull_requests.csv, …), found none", file=spec.path, key=f"sources.{spec.dataset}.path", hint="paths are relative to the project folder")])

    def file(self, name: str) -> Path:
        """`<name>.csv` in the folder, or the file `options: {<name>: file}` names (relative to it)."""
        other = (self.spec.options or {}).get(name)
        return self.root / other if other else self.root / f"{name}.csv"

    def has(self, name: str) -> bool:
        return self.file(name).is_file()

    def read(self, name: str) -> pl.DataFrame:
        path = self.file(name)
        if not path.is_file():
            raise SourceError(problems=[Problem(f"expected the DevLake table {name} ({path.name}) in the folder, found none", file=self.spec.path, key=f"sources.{self.spec.dataset}.path", hint=f"export DevLake's `{name}` table as CSV into this folder, or name its file with options: {{{name}: <file>}}")])
        return read_table(path, dates=DATES.get(name, ()), shown=display_path(self.config, path))


def _projects(folder: _Folder) -> tuple[pl.DataFrame | None, str | None]:
    project = folder.spec.options.get("project") if folder.spec.options else None
    if not folder.has("project_mapping"):
        return None, project
    return folder.read("project_mapping"), project


def _value_stream(df: pl.DataFrame, mapping: pl.DataFrame | None, project: str | None, key: str, table: str, spec: SourceSpec) -> pl.DataFrame:
    """Attach value_stream = the DevLake project owning the row (unless the source names one)."""
    if mapping is None:
        return df if spec.value_stream else df.with_columns(pl.lit(project or "devlake").alias("value_stream"))
    m = mapping.filter(pl.col("table") == table)
    if project is not None:
        m = m.filter(pl.col("project_name") == project)
    m = m.group_by("row_id").agg(pl.col("project_name").sort().first().alias("value_stream"))
    df = df.join(m, left_on=key, right_on="row_id", how="inner")
    return df.drop("value_stream") if spec.value_stream else df


def _deployment_commits(folder: _Folder, mapping: pl.DataFrame | None, project: str | None) -> pl.DataFrame:
    scopes = scopes_of(mapping, project, "cicd_scopes") if mapping is not None else None
    if folder.has("cicd_pipelines") and folder.has("cicd_pipeline_commits") and not folder.has("cicd_deployment_commits"):
        raw = folder.read("cicd_pipelines")
        tasks = folder.read("cicd_tasks") if folder.has("cicd_tasks") else None
        all_scopes = scopes if scopes is not None else raw.get_column("cicd_scope_id").unique().to_list()
        dc = generate_deployment_commits(raw, folder.read("cicd_pipeline_commits"), tasks, all_scopes)
        dc = dc.with_columns(pl.lit(None, dtype=pl.String).alias("prev_success_deployment_commit_id"), pl.lit(display_path(folder.config, folder.file("cicd_pipelines"))).alias(FILE), pl.lit(None, dtype=pl.Int64).alias(ROW))
    else:
        dc = folder.read("cicd_deployment_commits")
    if "prev_success_deployment_commit_id" not in dc.columns or dc.get_column("prev_success_deployment_commit_id").null_count() == dc.height:
        dc = link_previous_success(dc.with_columns(pl.lit(None, dtype=pl.String).alias("prev_success_deployment_commit_id")), scopes if scopes is not None else dc.get_column("cicd_scope_id").unique().to_list())
    return dc


def _deployments(folder: _Folder) -> pl.DataFrame:
    """One row per DevLake deployment (`cicd_deployment_id`): a deployment with a SUCCESS commit to
    PRODUCTION is a successful production deployment finishing at the latest such commit."""
    mapping, project = _projects(folder)
    dc = _deployment_commits(folder, mapping, project)
    dc = _value_stream(dc, mapping, project, "cicd_scope_id", "cicd_scopes", folder.spec)
    good = (pl.col("result") == "SUCCESS") & (pl.col("environment") == "PRODUCTION")
    vs = [pl.col("value_stream").first()] if "value_stream" in dc.columns else []
    out = dc.sort("finished_date", "id", nulls_last=False).group_by("cicd_deployment_id", maintain_order=True).agg(
        *vs,
        good.any().alias("_ok"),
        pl.col("finished_date").filter(good).max().alias("_ok_finished"),
        pl.col("finished_date").max().alias("_finished"),
        pl.col("started_date").min().alias("started_at"),
        pl.col("commit_sha").last().alias("commit_sha"),
        pl.col("environment").drop_nulls().last().alias("_env"),
        (pl.col("result") == "FAILURE").any().alias("_failed"),
        pl.col("result").last().alias("_result"),
        pl.col(FILE).first(), pl.col(ROW).min(),
    )
    return out.select(
        pl.col("cicd_deployment_id").alias("id"), *(["value_stream"] if vs else []),
        pl.when(pl.col("_ok")).then(pl.col("_ok_finished")).otherwise(pl.col("_finished")).alias("finished_at"),
        pl.when(pl.col("_ok")).then(pl.lit("production")).otherwise(pl.col("_env").str.to_lowercase()).alias("environment"),
        pl.when(pl.col("_ok")).then(pl.lit("success")).when(pl.col("_failed")).then(pl.lit("failure")).otherwise(pl.col("_result").str.to_lowercase()).alias("result"),
        "commit_sha", "started_at", FILE, ROW,
    ).sort(ROW, "id")


def _changes(folder: _Folder) -> pl.DataFrame:
    """Merged pull requests of the project's repos: first commit, opened, merged, and the deployment
    that shipped the merge commit (DevLake's rule, see `pr_deployments`)."""
    mapping, project = _projects(folder)
    prs = folder.read("pull_requests").filter(pl.col("merged_date").is_not_null())
    prs = _value_stream(prs, mapping, project, "base_repo_id", "repos", folder.spec)
    commits = folder.read("pull_request_commits").group_by("pull_request_id").agg(pl.col("commit_authored_date").min().alias("_first"))
    prs = prs.join(commits, left_on="id", right_on="pull_request_id", how="left")
    deployed = None
    if folder.has("cicd_deployment_commits") or folder.has("cicd_pipelines"):
        dc = _deployment_commits(folder, mapping, project)
        scopes = scopes_of(mapping, project, "cicd_scopes") if mapping is not None else dc.get_column("cicd_scope_id").unique().to_list()
        if folder.has("commits_diffs"):
            diffs = folder.read("commits_diffs")
        elif folder.has("commit_parents"):
            diffs = commits_diff(dc, folder.read("commit_parents"), scopes)
        else:
            diffs = None
        if diffs is not None:
            deployed = pr_deployments(prs, dc, diffs, scopes)
    if deployed is None:
        deployed = pl.DataFrame(schema={"id": pl.String, "cicd_deployment_id": pl.String, "pr_deployed_date": UTC})
    prs = prs.join(deployed.select("id", "cicd_deployment_id", "pr_deployed_date"), on="id", how="left")
    # DevLake counts no coding time when there is no PR commit or the first one is dated after the PR
    # was opened (rebased work): the change then starts when the PR was opened.
    return prs.select(
        "id", *(["value_stream"] if "value_stream" in prs.columns else []),
        pl.min_horizontal("_first", "created_date").alias("first_commit_at"), pl.col("created_date").alias("opened_at"),
        pl.col("merged_date").alias("merged_at"), pl.col("pr_deployed_date").alias("deployed_at"),
        pl.col("cicd_deployment_id").alias("deployment_id"), pl.col("merge_commit_sha").alias("commit_sha"), FILE, ROW,
    ).sort(ROW)


def _incidents(folder: _Folder) -> pl.DataFrame:
    mapping, project = _projects(folder)
    inc = folder.read("incidents")
    if mapping is not None and "table" in inc.columns and "scope_id" in inc.columns:
        m = mapping.filter(pl.lit(project is None) | (pl.col("project_name") == project)).group_by("table", "row_id").agg(pl.col("project_name").sort().first().alias("value_stream"))
        inc = inc.join(m, left_on=["table", "scope_id"], right_on=["table", "row_id"], how="inner")
        if folder.spec.value_stream:
            inc = inc.drop("value_stream")
    elif not folder.spec.value_stream:
        inc = inc.with_columns(pl.lit(project or "devlake").alias("value_stream"))
    resolved = pl.col("resolution_date") if "resolution_date" in inc.columns else pl.lit(None, dtype=UTC)
    return inc.select(
        "id", *(["value_stream"] if "value_stream" in inc.columns else []), pl.col("created_date").alias("created_at"), resolved.alias("resolved_at"),
        *([pl.col("severity")] if "severity" in inc.columns else []), FILE, ROW,
    ).sort(ROW)


def _issues(folder: _Folder) -> pl.DataFrame:
    """Issues of the project's boards (through board_issues), all issues without a mapping."""
    mapping, project = _projects(folder)
    issues = folder.read("issues")
    if mapping is not None and folder.has("board_issues"):
        bi = folder.read("board_issues").select("board_id", "issue_id")
        m = mapping.filter((pl.col("table") == "boards") & (pl.lit(project is None) | (pl.col("project_name") == project)))
        owner = bi.join(m.select(pl.col("row_id").alias("board_id"), "project_name"), on="board_id").group_by("issue_id").agg(pl.col("project_name").sort().first().alias("value_stream"))
        issues = issues.join(owner, left_on="id", right_on="issue_id", how="inner")
        if folder.spec.value_stream:
            issues = issues.drop("value_stream")
    elif not folder.spec.value_stream:
        issues = issues.with_columns(pl.lit(project or "devlake").alias("value_stream"))
    return issues


def _work_items(folder: _Folder) -> pl.DataFrame:
    issues = _issues(folder)
    kind = pl.col("type").replace(FLOW_TYPES) if "type" in issues.columns else pl.col("original_type")
    done = pl.col("resolution_date") if "resolution_date" in issues.columns else pl.lit(None, dtype=UTC)
    return issues.select(
        "id", kind.alias("type"), *(["value_stream"] if "value_stream" in issues.columns else []), pl.col("created_date").alias("created_at"),
        *([pl.col("title")] if "title" in issues.columns else []), done.alias("completed_at"),
        *([pl.col("story_point").alias("points")] if "story_point" in issues.columns else []), FILE, ROW,
    ).sort(ROW)


def _status_changes(folder: _Folder) -> pl.DataFrame:
    """Every status interval start (DevLake's status history), so the initial status is known too.

    `options: {status: standard}` uses DevLake's mapped status instead of the tool's own name."""
    issues = _issues(folder)
    hist = status_history(issues, folder.read("issue_changelogs"))
    use = "status" if (folder.spec.options or {}).get("status") == "standard" else "original_status"
    shown = display_path(folder.config, folder.file("issue_changelogs"))
    hist = hist.filter(pl.col(use).is_not_null())
    return hist.select(
        pl.col("issue_id").alias("item_id"), pl.col(use).alias("status"), pl.col("start_date").alias("changed_at"),
        pl.lit(shown).alias(FILE), pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW) + 2,
    )


BUILDERS = {"deployments": _deployments, "changes": _changes, "incidents": _incidents, "work_items": _work_items, "status_changes": _status_changes}


@register("devlake")
def read_devlake(config: Config, spec: SourceSpec) -> RawFrame:
    build = BUILDERS.get(spec.dataset)
    if build is None:
        raise SourceError(problems=[Problem(f"the devlake preset cannot provide {spec.dataset}", file=str(config.config_file), key=f"sources.{spec.dataset}.format", hint="it provides " + ", ".join(BUILDERS))])
    folder = _Folder(config, spec)
    return RawFrame(frame=build(folder), origin=spec.path or "", timezone="UTC")
