"""A site with three versions built once per session (2026-11 from changed KPI data), copied per test."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowsite._build import build

from ..conftest import SAMPLE

BASE_URL = "https://example.org/scorecards/"


def sample_copy(dst: Path) -> Path:
    shutil.copytree(SAMPLE, dst, ignore=shutil.ignore_patterns("site", "__pycache__"))
    cfg = dst / "flowsite.yml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("site:\n", f"site:\n  base_url: {BASE_URL}\n", 1), encoding="utf-8")
    return dst


def change_kpis(project: Path) -> None:
    """Move checkout's last conversion-rate figure from on track to off track, and payments' KPI a little."""
    path = project / "data" / "kpis.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        vs, kpi, date, value = line.split(",")
        if (vs, kpi, date) == ("checkout", "conversion-rate", "2026-11-30"):
            value = "1.9"
        elif (vs, kpi, date) == ("payments", "payment-success", "2026-11-30"):
            value = str(round(float(value) - 0.5, 3))
        out.append(",".join([vs, kpi, date, value]))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def three_version_site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("three")
    project = sample_copy(root / "project")
    out = root / "site"
    for i, version in enumerate(["2026-9", "2026-10", "2026-11"], 1):
        if version == "2026-11":
            change_kpis(project)
        build(project, out=out, version=version)
        shutil.copytree(out, root / f"stage-{i}")  # the site as it was after each build, for deploy tests
    return out


def stages(three_version_site: Path) -> list[Path]:
    return [three_version_site.parent / f"stage-{i}" for i in (1, 2, 3)]


@pytest.fixture
def site(three_version_site: Path, tmp_path: Path) -> Path:
    """A private copy of the three-version site."""
    dst = tmp_path / "site"
    shutil.copytree(three_version_site, dst)
    return dst
