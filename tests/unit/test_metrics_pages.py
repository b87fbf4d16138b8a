"""Every metric page states definition, statistic, window, n, exclusions, profile (with the rule it
applied) and benchmark set, and carries the coverage warnings (built through the real CLI)."""
from __future__ import annotations

import html
import re

import pytest

from tests.conftest import run_cli
from tests.unit.test_metrics_edge import project


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.mark.parametrize(("profile", "rule"), [
    ("flowsite", "Changes whose first commit is older than the value stream's first observed deployment are left out"),
    ("devlake", "Apache DevLake: PR cycle time"),
    ("fourkeys", "Four Keys: for every (deployment, change) pair"),
])
def test_metric_page_states_its_definition_block(tmp_path, profile, rule):
    root = project(tmp_path, profile)
    out = tmp_path / "site"
    result = run_cli("build", root, "--out", out, "--version", "v1")
    assert result.exit_code == 0, result.output
    page = text_of((out / "v1" / "metrics" / "lead_time" / "index.html").read_text(encoding="utf-8"))
    for label in ("Statistic", "Window", "n", "Profile", "Benchmark set", "Inputs"):
        assert f" {label} " in page, label
    assert "Hours from a change's first commit" in page  # the definition
    assert rule in page
    assert "DORA 2024" in page  # the benchmark set in use is named
    assert "over the window (Web" in page
    if profile == "flowsite":
        assert "1 × first commit before the first observed deployment" in page
        assert "small sample: n = 4" in page
    rec = text_of((out / "v1" / "metrics" / "recovery_time" / "index.html").read_text(encoding="utf-8"))
    assert "small sample" in rec
