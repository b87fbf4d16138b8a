"""`flowsite demo`: generated projects at a chosen scale, deterministic and buildable."""
from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from flowsite.demo import SCALES, create_demo
from tests.conftest import run_cli, tree_digest


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    create_demo(a, "S")
    create_demo(b, "S")
    create_demo(c, "S", seed=8)
    assert tree_digest(a) == tree_digest(b)
    assert tree_digest(a / "data") != tree_digest(c / "data")


def test_m_scale_has_the_promised_rows_and_realistic_skew(tmp_path: Path):
    counts = create_demo(tmp_path / "m", "M")
    s = SCALES["M"]
    assert counts["work_items"] == s.work_items and counts["deployments"] == s.deployments and counts["changes"] == s.changes
    assert 0.95 * s.status_changes <= counts["status_changes"] <= s.status_changes
    assert 0.9 * s.incidents <= counts["incidents"] <= s.incidents
    data = tmp_path / "m" / "data"
    items = pl.read_parquet(data / "work_items.parquet")
    assert items.get_column("value_stream").n_unique() == s.value_streams
    per_stream = items.group_by("value_stream").len().get_column("len").sort(descending=True)
    assert per_stream[0] > 5 * per_stream[len(per_stream) // 2]  # a few big value streams, a long tail
    done = items.drop_nulls("completed_at")
    days = ((done.get_column("completed_at") - done.get_column("created_at")).dt.total_seconds() / 86400)
    assert days.quantile(0.95) > 3 * days.median()  # long-tailed flow times
    deps = pl.read_parquet(data / "deployments.parquet")
    weekly = deps.filter(pl.col("value_stream") == "vs-001").group_by(pl.col("finished_at").dt.truncate("1w")).len().get_column("len")
    assert weekly.max() > 2 * weekly.median()  # bursts of deployments
    span = items.select(pl.col("created_at").min().alias("a"), pl.col("created_at").max().alias("b")).row(0)
    assert (span[1] - span[0]).days > 30 * (s.months - 1)
    sc = pl.read_parquet(data / "status_changes.parquet")
    assert sc.get_column("item_id").is_in(items.get_column("id").implode()).all()


def test_demo_command_writes_a_project_that_builds(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FLOWSITE_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "demo"
    r = run_cli("demo", project, "--scale", "S")
    assert r.exit_code == 0, r.output
    assert "1,600 work items" in r.output
    assert not list(project.rglob("*.csv")) and len(list((project / "data").glob("*.parquet"))) == 7
    r = run_cli("demo", project)
    assert r.exit_code == 1 and "not empty" in r.output
    r = run_cli("build", project, "--out", tmp_path / "site")
    assert r.exit_code == 0, r.output
    assert "5 scorecards" in r.output
    page = tmp_path / "site" / "latest" / "value-streams" / "vs-001" / "index.html"
    assert page.stat().st_size < 200 * 1024
    assert "<svg" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("scale", ["X", "m "])
def test_unknown_scale_is_refused(tmp_path: Path, scale: str):
    r = run_cli("demo", tmp_path / "d", "--scale", scale)
    assert r.exit_code == 2 and "S" in r.output
