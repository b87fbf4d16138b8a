"""The GitHub Actions workflows `flowsite init` writes: both flows present, and every flowsite option they use exists."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from ..conftest import run_cli
from .conftest import sample_copy
from .test_deploy import git, repos  # noqa: F401 - fixture reused

WORKFLOWS = Path(__file__).resolve().parents[2] / "flowsite" / "project_template" / ".github" / "workflows"


def runs(path: Path) -> list[str]:
    doc = yaml.safe_load(path.read_text())
    return [s["run"] for job in doc["jobs"].values() for s in job.get("steps", []) if "run" in s]


def test_init_writes_both_workflows(tmp_path: Path):
    r = run_cli("init", tmp_path / "proj")
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "proj" / ".github" / "workflows").iterdir())
    assert names == ["flowsite-gh-pages.yml", "flowsite-pages.yml"]
    artifact = (tmp_path / "proj" / ".github" / "workflows" / "flowsite-pages.yml").read_text()
    assert "actions/upload-pages-artifact" in artifact and "actions/deploy-pages" in artifact and "--history-url" in artifact
    branch = (tmp_path / "proj" / ".github" / "workflows" / "flowsite-gh-pages.yml").read_text()
    assert "flowsite deploy" in branch and "--history-archive" in branch


def test_every_flowsite_option_in_the_workflows_exists():
    seen = 0
    for wf in sorted(WORKFLOWS.glob("*.yml")):
        for script in runs(wf):
            for line in script.splitlines():
                m = re.search(r"\bflowsite (\w[\w-]*)(.*)", line)
                if not m or m.group(1) not in ("build", "check", "deploy"):
                    continue
                help_text = run_cli(m.group(1), "--help").output
                for opt in re.findall(r"(?<![\w$])--[a-z][a-z-]+", m.group(2)):
                    assert opt in help_text, f"{wf.name}: flowsite {m.group(1)} has no {opt}"
                    seen += 1
    assert seen >= 8


def test_the_gh_pages_flow_from_a_shallow_ci_clone(three_version_site: Path, repos, tmp_path: Path):  # noqa: F811
    """What flowsite-gh-pages.yml does, run locally: restore the branch, build one more version, deploy and push."""
    work, remote = repos
    from .conftest import stages

    r = run_cli("deploy", "--out", stages(three_version_site)[2], "--repo", work, "--push")
    assert r.exit_code == 0, r.output
    ci = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{remote}", str(ci)], check=True, capture_output=True)
    archive = tmp_path / "site-history.tar.gz"
    git(ci, "fetch", "-q", "--depth=1", "origin", "gh-pages")
    git(ci, "archive", "--format=tar.gz", "-o", str(archive), "FETCH_HEAD")
    project = sample_copy(tmp_path / "p")
    r = run_cli("build", project, "--out", ci / "site", "--version", "2026-12", "--history-archive", archive)
    assert r.exit_code == 0, r.output
    r = run_cli("deploy", "--out", ci / "site", "--repo", ci, "--push", "--keep", "20")
    assert r.exit_code == 0, r.output
    assert git(remote, "rev-list", "--count", "gh-pages") == "2"
    listing = git(remote, "ls-tree", "--name-only", "gh-pages").split()
    assert {"2026-9", "2026-10", "2026-11", "2026-12", "latest"} <= set(listing)
    order = [v["version"] for v in json.loads(git(remote, "show", "gh-pages:versions.json"))]
    assert order == ["2026-12", "2026-11", "2026-10", "2026-9"]
