"""`flowsite init` writes a project that builds as it is, identical to sample_project/."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import SAMPLE, run_cli, tree_digest


def test_init_matches_sample_project_and_builds(tmp_path: Path):
    proj = tmp_path / "proj"
    r = run_cli("init", proj)
    assert r.exit_code == 0, r.output
    made = tree_digest(proj)
    committed = {k: v for k, v in tree_digest(SAMPLE).items() if k != "generate.py" and not k.startswith("site/") and "__pycache__" not in k}
    assert made == committed, "sample_project/ drifted from `flowsite init`: run `python sample_project/generate.py` or re-run init"
    r = run_cli("build", proj, "--version", "2026-11")
    assert r.exit_code == 0, r.output
    assert (proj / "site" / "2026-11" / "value-streams" / "checkout" / "index.html").is_file()


def test_init_refuses_a_non_empty_folder(tmp_path: Path):
    (tmp_path / "x.txt").write_text("keep me")
    r = run_cli("init", tmp_path)
    assert r.exit_code == 1
    assert "not empty" in r.output and "--force" in r.output
    assert (tmp_path / "x.txt").read_text() == "keep me"


def test_check_reports_each_dataset(sample_project: Path):
    r = run_cli("check", sample_project)
    assert r.exit_code == 0, r.output
    assert "configuration OK (5 value streams" in r.output
    assert "deployments" in r.output and "rows read" in r.output
