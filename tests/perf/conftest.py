"""Shared by the incremental-build tests: a cache folder of the test's own and a build that records its stages."""
from __future__ import annotations

from pathlib import Path

import pytest

from flowsite import build


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("FLOWSITE_CACHE_DIR", str(d))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    return d


def build_stages(project: Path, out: Path, **kw) -> list[str]:
    """Build and return the progress lines ("stage: message") it reported."""
    stages: list[str] = []
    build(project, out=out, progress=lambda stage, message: stages.append(f"{stage}: {message}"), **kw)
    return stages
