"""The dbt plugin end to end: a real `dbt build` of the fixture dbt-duckdb project, then flowsite.

tests/fixtures/dbt/ holds a flowsite project whose `warehouse/` folder is a small dbt project (two
seeds, two models). The test copies it, runs dbt, reads the models with `dbt_ref`, checks the
figures, writes the exposures file and has dbt parse it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from flowsite._build import check
from flowsite.errors import SourceError

from ..conftest import run_cli

pytestmark = pytest.mark.slow  # a real dbt build: about 20 s, runs in CI like every other test

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dbt"


def dbt_command() -> list[str]:
    exe = Path(sys.executable).with_name("dbt")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("dbt")
    if found is None:
        pytest.skip("dbt is not installed (pip install -e '.[test]' brings dbt-duckdb)")
    return [found]


def dbt(project: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_LOG_PATH": str(project / "logs"), "DBT_NO_PRINT": "false"}
    env.pop("WAREHOUSE_PATH", None)
    done = subprocess.run([*dbt_command(), *args, "--project-dir", str(project), "--profiles-dir", str(project)], cwd=cwd or project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The fixture project copied to a temp folder, after a real `dbt build`."""
    pytest.importorskip("dbt.adapters.duckdb", reason="dbt-duckdb is not installed (pip install -e '.[test]')")
    root = tmp_path_factory.mktemp("dbt") / "project"
    shutil.copytree(FIXTURE, root)
    dbt(root / "warehouse", "build")
    return root


def figure(figures: pl.DataFrame, vs: str, metric: str, period: str) -> tuple[float, int]:
    row = figures.filter((pl.col("value_stream") == vs) & (pl.col("metric") == metric) & (pl.col("period") == period))
    assert row.height == 1, f"no {metric} for {vs} {period}: {figures.filter(pl.col('metric') == metric)}"
    return row.get_column("value")[0], row.get_column("n")[0]


def test_flowsite_reads_the_models_dbt_built(built):
    result = check(built)
    reports = result.datasets.reports
    assert reports["deployments"].origin == "dbt model fct_deployments (main.fct_deployments)"
    assert (reports["deployments"].rows_read, reports["changes"].rows_read) == (8, 6)
    figures = result.results.figures
    # Lead time: checkout's PR 1 predates the first observed deployment and is excluded; PRs 2-4 took 24, 48, 72 h.
    assert figure(figures, "checkout", "lead_time", "2026-01") == (48.0, 3)
    assert figure(figures, "search", "lead_time", "2026-01") == (30.0, 1)
    # Only successful production deployments count: checkout 101, 103, 105, 106; search 201, 202.
    deploys = result.datasets.frames["deployments"]
    prod = deploys.filter((pl.col("environment") == "production") & (pl.col("result") == "success"))
    assert sorted(prod.get_column("id").to_list()) == ["101", "103", "105", "106", "201", "202"]
    assert figure(figures, "checkout", "deployment_frequency", "2026-01")[1] == 4
    assert figure(figures, "search", "deployment_frequency", "2026-01")[1] == 2


def test_flowsite_build_after_dbt_build(built, tmp_path):
    result = run_cli("build", built, "--out", tmp_path / "site")
    assert result.exit_code == 0, result.output
    data = json.loads(next((tmp_path / "site").glob("*/data/metrics.json")).read_text(encoding="utf-8"))
    text = json.dumps(data)
    assert "checkout" in text and "lead_time" in text


def test_exposures_parse_as_dbt_yaml(built):
    result = run_cli("dbt-exposures", built)
    assert result.exit_code == 0, result.output
    path = built / "warehouse" / "models" / "flowsite_exposures.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [e["name"] for e in doc["exposures"]] == ["flowsite_checkout", "flowsite_search"]
    dbt(built / "warehouse", "parse")
    manifest = json.loads((built / "warehouse" / "target" / "manifest.json").read_text(encoding="utf-8"))
    exposure = manifest["exposures"]["exposure.delivery_warehouse.flowsite_checkout"]
    assert exposure["type"] == "dashboard" and exposure["owner"]["name"] == "Checkout team"
    assert sorted(exposure["depends_on"]["nodes"]) == ["model.delivery_warehouse.fct_changes", "model.delivery_warehouse.fct_deployments"]


def test_unknown_model_names_the_models(built, tmp_path):
    project = tmp_path / "p"
    shutil.copytree(built, project, ignore=shutil.ignore_patterns("logs"))
    cfg = (project / "flowsite.yml").read_text(encoding="utf-8").replace("dbt_ref: fct_changes", "dbt_ref: fct_change")
    (project / "flowsite.yml").write_text(cfg, encoding="utf-8")
    with pytest.raises(SourceError) as err:
        check(project)
    assert "expected a dbt model named 'fct_change'" in err.value.format() and "fct_changes" in err.value.format()


def test_unbuilt_project_says_run_dbt_build(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "p")
    result = run_cli("check", tmp_path / "p")
    assert result.exit_code == 1
    assert "no manifest.json" in result.output and "dbt build" in result.output


def test_dbt_run_from_the_repository_root(tmp_path):
    # CI often runs `dbt build --project-dir warehouse` from the root: the DuckDB file lands there.
    pytest.importorskip("dbt.adapters.duckdb", reason="dbt-duckdb is not installed (pip install -e '.[test]')")
    root = tmp_path / "p"
    shutil.copytree(FIXTURE, root)
    dbt(root / "warehouse", "build", cwd=root)
    assert (root / "warehouse.duckdb").is_file() and not (root / "warehouse" / "warehouse.duckdb").exists()
    assert check(root).datasets.reports["deployments"].rows_read == 8
