"""Apache DevLake's DORA rules, computed on DevLake-shaped tables, and the comparison with its fixtures.

The `devlake` profile (profiles.py) applies the same rules to flowsite's canonical datasets; these
functions apply them to DevLake's own domain tables, so each rule can be checked, row by row, against
the expected tables of DevLake's e2e tests (conformance README §1; docs/metrics/profiles.md).
"""
from __future__ import annotations

import datetime as dt

import polars as pl

from ..sources.presets.devlake import format_ts, pr_deployments, scopes_of

MINUTE_US = 60_000_000


def ceil_minutes(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    """Whole minutes from `earlier` to `later`, rounded up; null when negative (DevLake's spans)."""
    us = (later - earlier).dt.total_microseconds()
    mins = (-((-us) // MINUTE_US))  # ceil for integers
    return pl.when(us >= 0).then(mins).cast(pl.Int64)


def trunc_minutes(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    """MySQL's TIMESTAMPDIFF(MINUTE, earlier, later): whole minutes, truncated toward zero."""
    us = (later - earlier).dt.total_microseconds()
    return (us.abs() // MINUTE_US * us.sign()).cast(pl.Int64)


def lower_median(values: list[float | int | None]) -> float | int | None:
    """DevLake's median: the largest value whose percent_rank() is <= 0.5 (n = 2: the smaller)."""
    v = sorted(x for x in values if x is not None)
    return v[(len(v) - 1) // 2] if v else None


def upper_median(values: list[float | int | None]) -> float | int | None:
    """The smallest value whose percent_rank() is >= 0.5 (DevLake's 2021 six-month figure)."""
    v = sorted(x for x in values if x is not None)
    return v[len(v) // 2] if v else None


def pr_metrics(project: str, mapping: pl.DataFrame, pull_requests: pl.DataFrame, pr_commits: pl.DataFrame, comments: pl.DataFrame | None,
               deployment_commits: pl.DataFrame, diffs: pl.DataFrame) -> pl.DataFrame:
    """DevLake's `project_pr_metrics` (`calculateChangeLeadTime`) for one project.

    Merged PRs of the project's repos. Spans are whole minutes rounded up, null when negative:
    coding = first commit -> opened; pickup = opened -> first review (first comment by someone other
    than the author); review = first review -> merged; deploy = merged -> the deployment commit that
    shipped the merge commit. cycle = coding + (opened -> merged) + deploy, null parts as 0.
    """
    repos = scopes_of(mapping, project, "repos")
    scopes = scopes_of(mapping, project, "cicd_scopes")
    prs = pull_requests.filter(pl.col("merged_date").is_not_null() & pl.col("base_repo_id").is_in(repos))
    first_commit = (
        pr_commits.sort("pull_request_id", "commit_authored_date", "commit_sha").group_by("pull_request_id", maintain_order=True).first()
        .select(pl.col("pull_request_id").alias("id"), pl.col("commit_sha").alias("first_commit_sha"), pl.col("commit_authored_date").alias("first_commit_authored_date"))
    )
    out = prs.join(first_commit, on="id", how="left")
    if comments is not None and comments.height:
        reviews = (
            comments.join(prs.select(pl.col("id").alias("pull_request_id"), pl.col("author_id").alias("_author")), on="pull_request_id", how="inner")
            .filter(pl.col("_author").is_null() | (pl.col("account_id") != pl.col("_author")) | pl.col("account_id").is_null())
            .sort("pull_request_id", "created_date", "id").group_by("pull_request_id", maintain_order=True).first()
            .select(pl.col("pull_request_id").alias("id"), pl.col("id").alias("first_review_id"), pl.col("created_date").alias("first_comment_date"))
        )
        out = out.join(reviews, on="id", how="left")
    else:
        out = out.with_columns(pl.lit(None, dtype=pl.String).alias("first_review_id"), pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("first_comment_date"))
    deployed = pr_deployments(prs, deployment_commits, diffs, scopes)
    out = out.join(deployed.select("id", "deployment_commit_id", "pr_deployed_date"), on="id", how="left")
    out = out.with_columns(
        ceil_minutes(pl.col("created_date"), pl.col("first_commit_authored_date")).alias("pr_coding_time"),
        ceil_minutes(pl.col("first_comment_date"), pl.col("created_date")).alias("pr_pickup_time"),
        ceil_minutes(pl.col("merged_date"), pl.col("first_comment_date")).alias("pr_review_time"),
        ceil_minutes(pl.col("pr_deployed_date"), pl.col("merged_date")).alias("pr_deploy_time"),
        ceil_minutes(pl.col("merged_date"), pl.col("created_date")).alias("_open"),
    )
    out = out.with_columns((pl.col("pr_coding_time").fill_null(0) + pl.col("_open").fill_null(0) + pl.col("pr_deploy_time").fill_null(0)).alias("pr_cycle_time"))
    return out.select(
        "id", pl.lit(project).alias("project_name"), "first_commit_sha", "pr_coding_time", "first_review_id", "pr_pickup_time", "pr_review_time",
        "deployment_commit_id", "pr_deploy_time", "pr_cycle_time", "first_commit_authored_date", "first_comment_date",
        pl.col("created_date").alias("pr_created_date"), pl.col("merged_date").alias("pr_merged_date"), "pr_deployed_date",
    ).sort("id")


def incident_deployments(project: str, mapping: pl.DataFrame, incidents: pl.DataFrame, deployment_commits: pl.DataFrame) -> pl.DataFrame:
    """DevLake's `project_incident_deployment_relationships` (`ConnectIncidentToDeployment`).

    Each incident of the project (its (table, scope_id) is mapped to it) is blamed on the SUCCESS,
    PRODUCTION deployment commit of the project's CI scopes with the latest finish strictly before the
    incident was created; the row names that commit's deployment (pipeline). No window.
    """
    scopes = scopes_of(mapping, project, "cicd_scopes")
    mine = mapping.filter(pl.col("project_name") == project).select("table", "row_id")
    inc = incidents.join(mine, left_on=["table", "scope_id"], right_on=["table", "row_id"], how="semi").sort("created_date")
    deps = (
        deployment_commits.filter((pl.col("result") == "SUCCESS") & (pl.col("environment") == "PRODUCTION") & pl.col("cicd_scope_id").is_in(scopes) & pl.col("finished_date").is_not_null())
        .select(pl.col("finished_date").alias("_at"), pl.col("cicd_deployment_id").alias("deployment_id")).sort("_at")
    )
    linked = inc.join_asof(deps, left_on="created_date", right_on="_at", strategy="backward", allow_exact_matches=False, check_sortedness=False)
    return linked.filter(pl.col("deployment_id").is_not_null()).select("id", pl.lit(project).alias("project_name"), "deployment_id").sort("id")


def deployments(project: str, mapping: pl.DataFrame, deployment_commits: pl.DataFrame) -> pl.DataFrame:
    """DevLake's deployments: a `cicd_deployment_id` with >= 1 SUCCESS commit to PRODUCTION in the
    project's CI scopes, finishing at the latest of those commits."""
    scopes = scopes_of(mapping, project, "cicd_scopes")
    return (
        deployment_commits.filter((pl.col("result") == "SUCCESS") & (pl.col("environment") == "PRODUCTION") & pl.col("cicd_scope_id").is_in(scopes))
        .group_by("cicd_deployment_id").agg(pl.col("finished_date").max().alias("finished_at"))
        .rename({"cicd_deployment_id": "id"}).sort("id")
    )


def lead_time_minutes(pr_metrics_frame: pl.DataFrame, deployment_commits: pl.DataFrame, start: dt.datetime, end: dt.datetime) -> tuple[int | None, int]:
    """(lower median of pr_cycle_time, n) over PRs whose deployment commit finished in [start, end)."""
    rows = pr_metrics_frame.join(deployment_commits.select(pl.col("id").alias("deployment_commit_id"), pl.col("finished_date").alias("_fin")), on="deployment_commit_id", how="inner")
    rows = rows.filter((pl.col("_fin") >= start) & (pl.col("_fin") < end) & pl.col("pr_cycle_time").is_not_null())
    values = rows.get_column("pr_cycle_time").to_list()
    return lower_median(values), len(values)


def change_failure_rate(deps: pl.DataFrame, relationships: pl.DataFrame, start: dt.datetime, end: dt.datetime) -> tuple[float | None, int, int]:
    """(CFR in %, failed, deployments): deployments finished in [start, end) with >= 1 linked incident.
    None (DevLake's N/A) when there are no deployments or no incidents."""
    d = deps.filter((pl.col("finished_at") >= start) & (pl.col("finished_at") < end))
    failed = d.join(relationships.select(pl.col("deployment_id").alias("id")).unique(), on="id", how="semi").height
    if d.height == 0 or relationships.height == 0:
        return None, failed, d.height
    return failed / d.height * 100, failed, d.height


# --- comparing with DevLake's expected tables (conformance README §1.0) --------------------------

def as_text(df: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Columns as DevLake's e2e check sees them: text, timestamps as `…T…:SS.mmm+00:00`, booleans
    0/1, integers without decimals, null and empty text both as ''."""
    exprs = []
    for c in columns:
        dtype = df.schema[c]
        e = pl.col(c)
        if isinstance(dtype, pl.Datetime):
            e = format_ts(e)
        elif dtype == pl.Boolean:
            e = e.cast(pl.Int8).cast(pl.String)
        elif dtype.is_float():
            e = pl.when(e == e.round(0)).then(e.cast(pl.Int64).cast(pl.String)).otherwise(e.cast(pl.String))
        else:
            e = e.cast(pl.String)
        exprs.append(e.fill_null("").alias(c))
    return df.select(exprs)


def diff_tables(actual: pl.DataFrame, expected: pl.DataFrame, key: list[str], columns: list[str]) -> list[str]:
    """Differences between two tables by DevLake's rule: rows matched by key, equal row counts, the
    listed columns compared as text. An empty list means they agree. Rows whose key is not unique are
    compared as a multiset of whole rows."""
    a, e = as_text(actual, columns), as_text(expected, columns)
    problems = []
    if a.height != e.height:
        problems.append(f"row count: got {a.height}, expected {e.height}")
    if e.select(pl.struct(key).is_duplicated().any()).item():
        sa, se = a.sort(columns), e.sort(columns)
        missing = se.join(sa, on=columns, how="anti")
        extra = sa.join(se, on=columns, how="anti")
        problems += [f"expected row missing: {r}" for r in missing.iter_rows(named=True)]
        problems += [f"unexpected row: {r}" for r in extra.iter_rows(named=True)]
        return problems
    joined = e.join(a, on=key, how="full", suffix="::got", coalesce=False)
    for row in joined.iter_rows(named=True):
        k = {c: row[c] if row[c] is not None else row[f"{c}::got"] for c in key}
        if any(row[c] is None for c in key):
            problems.append(f"{k}: {'unexpected row' if row[key[0]] is None else 'missing row'}")
            continue
        for c in columns:
            if c in key:
                continue
            if row[c] != row[f"{c}::got"]:
                problems.append(f"{k}: {c} got {row[f'{c}::got']!r}, expected {row[c]!r}")
    return problems
