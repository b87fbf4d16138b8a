"""The `format: devlake` preset on a small hand-made DevLake export (no shared files needed): the
derived tables it rebuilds when an export lacks them, and its errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from flowsite.config import load_config
from flowsite.errors import SourceError
from flowsite.metrics import compute_metrics
from flowsite.sources.load import load_sources
from tests.conftest import write_project

# Two projects; pipelines instead of cicd_deployment_commits, commit_parents instead of commits_diffs.
EXPORT = {
    "devlake/project_mapping.csv": """\
        project_name,table,row_id
        shop,repos,r1
        shop,cicd_scopes,s1
        shop,boards,b1
        other,repos,r2
        other,cicd_scopes,s2
        """,
    "devlake/cicd_pipelines.csv": """\
        id,name,result,status,type,duration_sec,environment,created_date,finished_date,cicd_scope_id
        p1,deploy,SUCCESS,DONE,DEPLOYMENT,60,PRODUCTION,2026-3-2 9:59:00,2026-3-2 10:00:00,s1
        p2,deploy,SUCCESS,DONE,DEPLOYMENT,60,PRODUCTION,2026-3-4 9:59:00,2026-3-4 10:00:00,s1
        p3,deploy,FAILURE,DONE,DEPLOYMENT,60,PRODUCTION,2026-3-5 9:59:00,2026-3-5 10:00:00,s1
        p4,build,SUCCESS,DONE,,60,,2026-3-5 9:59:00,2026-3-5 11:00:00,s1
        p9,deploy,SUCCESS,DONE,DEPLOYMENT,60,PRODUCTION,2026-3-4 9:59:00,2026-3-4 10:00:00,s2
        """,
    "devlake/cicd_pipeline_commits.csv": """\
        pipeline_id,commit_sha,branch,repo_id,repo_url
        p1,a1,main,r1,https://git/shop
        p2,a3,main,r1,https://git/shop
        p3,a4,main,r1,https://git/shop
        p4,a4,main,r1,https://git/shop
        p9,z1,main,r2,https://git/other
        """,
    "devlake/commit_parents.csv": """\
        commit_sha,parent_commit_sha
        a3,m2
        m2,a2
        a2,a1
        a4,a3
        """,
    "devlake/pull_requests.csv": """\
        id,base_repo_id,author_id,merge_commit_sha,created_date,merged_date
        pr1,r1,u1,m2,2026-03-03T08:00:00.000+00:00,2026-03-03T09:00:00.000+00:00
        pr2,r1,u1,a9,2026-03-03T08:00:00.000+00:00,
        pr3,r2,u1,z9,2026-03-03T08:00:00.000+00:00,2026-03-03T09:00:00.000+00:00
        """,
    "devlake/pull_request_commits.csv": """\
        commit_sha,pull_request_id,commit_authored_date
        c1,pr1,2026-03-02T12:00:00.000+00:00
        c2,pr1,2026-03-02T11:00:00.000+00:00
        """,
    "devlake/incidents.csv": """\
        id,created_date,resolution_date,table,scope_id
        inc1,2026-03-04 12:00:00,2026-03-04 13:30:59,repos,r1
        inc2,2026-03-04 12:00:00,,repos,r2
        """,
    "devlake/issues.csv": """\
        id,type,original_type,status,original_status,title,created_date,resolution_date
        i1,REQUIREMENT,Story,DONE,Closed,Login,2026-03-01T08:00:00.000+00:00,2026-03-03T08:00:00.000+00:00
        i2,BUG,Bug,TODO,Open,Crash,2026-03-02T08:00:00.000+00:00,
        i3,BUG,Bug,TODO,Open,Not on the board,2026-03-02T08:00:00.000+00:00,
        """,
    "devlake/board_issues.csv": """\
        board_id,issue_id
        b1,i1
        b1,i2
        """,
    "devlake/issue_changelogs.csv": """\
        id,issue_id,field_name,original_from_value,original_to_value,from_value,to_value,created_date
        ch1,i1,status,Open,In Progress,TODO,IN_PROGRESS,2026-03-02T08:00:00.000+00:00
        ch2,i1,status,In Progress,Closed,IN_PROGRESS,DONE,2026-03-03T08:00:00.000+00:00
        ch3,i1,assignee,,someone,,,2026-03-02T09:00:00.000+00:00
        """,
}


def project(tmp_path: Path, options: str = "{project: shop}", datasets=("deployments", "changes", "incidents", "work_items", "status_changes")) -> Path:
    sources = "".join(f"  {d}: {{path: devlake, format: devlake, options: {options}}}\n" for d in datasets)
    config = (
        "name: Shop\nperiod: month\nwindow: 1\nas_of: 2026-03-31\ntimezone: UTC\nprofile: devlake\n"
        "statuses: {new: [Open], active: [In Progress], done: [Closed]}\n"
        f"sources:\n{sources}value_streams:\n  - {{id: shop, name: Shop}}\n"
    )
    return write_project(tmp_path / "p", config, EXPORT)


def test_preset_derives_deployments_changes_incidents_and_items(tmp_path):
    config = load_config(project(tmp_path))
    data = load_sources(config)
    deps = data.get("deployments").sort("id")
    # p4 is not a deployment (no DEPLOYMENT type or task); p9 belongs to the other project.
    assert deps.select("id", "result", "environment").rows() == [("p1", "success", "production"), ("p2", "success", "production"), ("p3", "failure", "production")]
    ch = data.get("changes")
    assert ch.get_column("id").to_list() == ["pr1"]  # pr2 not merged, pr3 in the other project
    # pr1's merge commit m2 lies between p1's a1 and p2's a3 in the commit graph (commit_parents).
    row = ch.row(0, named=True)
    assert row["deployment_id"] == "p2" and row["first_commit_at"].isoformat() == "2026-03-02T11:00:00+00:00"
    assert data.get("incidents").get_column("id").to_list() == ["inc1"]
    wi = data.get("work_items").sort("id")
    assert wi.select("id", "type").rows() == [("i1", "feature"), ("i2", "defect")]
    sc = data.get("status_changes").sort("item_id", "changed_at")
    assert sc.select("item_id", "status").rows() == [("i1", "Open"), ("i1", "In Progress"), ("i1", "Closed"), ("i2", "Open")]

    r = compute_metrics(config, data.frames)
    # coding 03-02 11:00 -> 03-03 08:00 = 1260 min, open 60, deploy 03-03 09:00 -> 03-04 10:00 = 1500.
    assert r.value("shop", "lead_time", "window") == (pytest.approx((1260 + 60 + 1500) / 60), 1)
    # inc1 after p2 (10:00): recovery from p2's finish, 3 h 30 min 59 s truncated to 210 min.
    assert r.value("shop", "recovery_time", "window") == (3.5, 1)
    assert r.value("shop", "change_failure_rate", "window") == (50.0, 2)
    assert r.value("shop", "flow_time", "window") == (1.0, 1)


def test_standard_status_option(tmp_path):
    config = load_config(project(tmp_path, "{project: shop, status: standard}", ("work_items", "status_changes")))
    sc = load_sources(config).get("status_changes").sort("item_id", "changed_at")
    assert sc.get_column("status").to_list() == ["TODO", "IN_PROGRESS", "DONE", "TODO"]


def test_missing_table_is_named(tmp_path):
    root = project(tmp_path)
    (root / "devlake" / "pull_request_commits.csv").unlink()
    with pytest.raises(SourceError) as err:
        load_sources(load_config(root))
    text = err.value.format()
    assert "pull_request_commits" in text and "sources.changes.path" in text


def test_bad_timestamp_is_located(tmp_path):
    root = project(tmp_path)
    p = root / "devlake" / "incidents.csv"
    p.write_text(p.read_text().replace("2026-03-04 13:30:59", "yesterday"))
    with pytest.raises(SourceError) as err:
        load_sources(load_config(root))
    problem = err.value.problems[0]
    assert (problem.row, problem.column) == (2, "resolution_date") and "yesterday" in problem.message


def test_folder_must_exist_and_dataset_must_be_supported(tmp_path):
    root = project(tmp_path, datasets=("deployments",))
    text = (root / "flowsite.yml").read_text()
    (root / "flowsite.yml").write_text(text.replace("path: devlake,", "path: nowhere,"))
    with pytest.raises(SourceError) as err:
        load_sources(load_config(root))
    assert "expected a folder of DevLake table exports" in err.value.format()
    (root / "flowsite.yml").write_text(text.replace("sources:\n", "sources:\n  kpis: {path: devlake, format: devlake}\n"))
    with pytest.raises(SourceError) as err:
        load_sources(load_config(root))
    assert "cannot provide kpis" in err.value.format()


def test_read_table_treats_empty_cells_as_null(tmp_path):
    from flowsite.sources.presets.devlake import read_table

    p = tmp_path / "t.csv"
    p.write_text("id,when\na,\nb,2026-1-2 3:04:05\n")
    df = read_table(p, dates=("when",))
    assert df.get_column("when").to_list()[0] is None
    assert df.get_column("when").dt.strftime("%Y-%m-%dT%H:%M:%S").to_list()[1] == "2026-01-02T03:04:05"
    assert df.get_column("__row").to_list() == [2, 3]
