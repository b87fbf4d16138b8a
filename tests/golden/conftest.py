"""Golden files: `pytest tests/golden --update-goldens` rewrites them from the current output."""
from __future__ import annotations

import difflib
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", default=False, help="rewrite tests/golden/*.golden.* from the current output")


@pytest.fixture
def golden(request):
    """golden(name, text): compare text with tests/golden/<name>, or rewrite it with --update-goldens."""
    update = request.config.getoption("--update-goldens")

    def check(name: str, text: str) -> None:
        path = HERE / name
        if update:
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"missing golden {path.name}: run `pytest tests/golden --update-goldens`"
        expected = path.read_text(encoding="utf-8")
        if text != expected:
            diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), f"golden/{name}", "now", n=2))
            pytest.fail(f"{name} differs from its golden (if the change is intended: pytest tests/golden --update-goldens)\n{diff[:6000]}", pytrace=False)

    return check
