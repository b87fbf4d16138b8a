"""A real plugin package, pip-installed into a temporary folder, adds a metric, a preset and hooks to a build."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.workflow.project import DEPLOYMENTS, small_project

PLUGIN_SRC = Path(__file__).resolve().parent / "example_plugin"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    """An installed copy of tests/plugins/example_plugin: the package plus its .dist-info, in a folder for PYTHONPATH.

    Written the way an installer lays out a wheel (METADATA and entry_points.txt taken from the
    plugin's pyproject.toml), so discovery goes through importlib.metadata exactly as after
    `pip install`, without needing a build backend or network here.
    """
    meta = tomllib.loads((PLUGIN_SRC / "pyproject.toml").read_text())["project"]
    target = tmp_path_factory.mktemp("plugin") / "site-packages"
    shutil.copytree(PLUGIN_SRC / "flowsite_example_plugin", target / "flowsite_example_plugin", ignore=shutil.ignore_patterns("__pycache__"))
    dist = target / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n")
    eps = "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) for group, items in meta["entry-points"].items())
    (dist / "entry_points.txt").write_text(eps)
    return target


def flowsite(plugin_path: Path, *args: str, log: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    if log:
        env["FLOWSITE_EXAMPLE_PLUGIN_LOG"] = str(log)
    return subprocess.run([sys.executable, "-m", "flowsite", *args], capture_output=True, text=True, env=env, timeout=300)


def test_plugin_metric_preset_and_hooks_on_the_built_site(tmp_path, plugin_path):
    project = small_project(tmp_path / "p")
    # The deployments come through the plugin's preset instead of the CSV reader.
    (project / "data" / "deployments.tsv").write_text(DEPLOYMENTS.replace(",", "\t"))
    (project / "data" / "deployments.csv").unlink()
    cfg = project / "flowsite.yml"
    cfg.write_text(cfg.read_text().replace("deployments: data/deployments.csv", "deployments: {path: data/deployments.tsv, format: example-tsv}"))
    log = tmp_path / "post-build.log"
    r = flowsite(plugin_path, "build", str(project), "--out", str(tmp_path / "site"), log=log)
    assert r.returncode == 0, r.stderr
    v = tmp_path / "site" / "2026-09"
    page = (v / "metrics" / "deploy_days" / "index.html").read_text()
    assert "Deployment days" in page and "Number of calendar days" in page
    assert "Deployment days" in (v / "value-streams" / "shop" / "index.html").read_text()
    doc = json.loads((v / "data" / "metrics.json").read_text())
    figs = {(f["value_stream"], f["period"]): (f["value"], f["n"]) for f in doc["figures"] if f["metric"] == "deploy_days"}
    assert figs[("shop", "2026-09")] == (4.0, 4) and figs[("shop", "window")] == (5.0, 5) and figs[("app", "2026-08")] == (1.0, 1)
    assert (v / "badges" / "shop" / "deploy_days.svg").is_file()
    assert "(example plugin)" in (v / "index.html").read_text()  # on_page_context
    assert "(example plugin)" not in (v / "metrics" / "index.html").read_text()
    assert log.read_text().startswith("built 2026-09 with ")  # on_post_build
    r = flowsite(plugin_path, "check", str(project))
    assert r.returncode == 0 and "  plugins: example (flowsite-example-plugin 0.1.0)" in r.stdout, r.stderr
    r = flowsite(plugin_path, "metrics", str(project), "--metric", "deploy_days", "--format", "csv")
    assert r.returncode == 0 and "shop,deploy_days,Deployment days,2026-09,4.0" in r.stdout, r.stderr


def test_without_the_plugin_its_preset_is_unknown(tmp_path):
    project = small_project(tmp_path / "p")
    cfg = project / "flowsite.yml"
    cfg.write_text(cfg.read_text().replace("deployments: data/deployments.csv", "deployments: {path: data/deployments.csv, format: example-tsv}"))
    r = subprocess.run([sys.executable, "-m", "flowsite", "metrics", str(project)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    assert "unknown format or preset 'example-tsv'" in r.stderr
