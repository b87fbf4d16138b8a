"""Shared fixtures: temporary projects written from the sample, small hand-made projects, a CLI runner."""
from __future__ import annotations

import hashlib
import os
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from flowsite.cli import main

# Property tests run the same examples on every run by default, so a green build stays green;
# FLOWSITE_HYPOTHESIS_PROFILE=explore draws new random examples (a fuzzing campaign).
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("FLOWSITE_HYPOTHESIS_PROFILE", "repeatable"))

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_project"
SHARED = REPO.parent / "shared"


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """A private copy of sample_project/ (tests may edit it)."""
    dst = tmp_path / "project"
    shutil.copytree(SAMPLE, dst, ignore=shutil.ignore_patterns("site", "__pycache__"))
    return dst


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run_cli(*args: str):
    """Invoke the real `flowsite` entry point; returns the click Result."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def write_project(root: Path, config: str, files: dict[str, str] | None = None) -> Path:
    """Write flowsite.yml (dedented) and data files into root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "flowsite.yml").write_text(textwrap.dedent(config).lstrip(), encoding="utf-8")
    for rel, text in (files or {}).items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under root (for byte-for-byte comparisons)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}
