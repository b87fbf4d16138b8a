"""Every flowsite.yml example in docs/recipes/ is a valid configuration, and every preset has a recipe."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from flowsite.config import load_config
from flowsite.sources.presets import PRESETS, load_builtin

RECIPES = Path(__file__).resolve().parents[2] / "docs" / "recipes"
BLOCKS = [(page.name, i, block) for page in sorted(RECIPES.glob("*.md")) for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)) if "sources:" in block]


@pytest.mark.parametrize("page, index, block", BLOCKS, ids=[f"{p}#{i}" for p, i, _ in BLOCKS])
def test_recipe_config_is_valid(tmp_path, page, index, block):
    (tmp_path / "flowsite.yml").write_text(block, encoding="utf-8")
    config = load_config(tmp_path, strict=True)  # unknown keys would be warnings: fatal here
    assert config.sources


def test_every_builtin_preset_has_a_recipe():
    load_builtin()
    text = "\n".join(p.read_text(encoding="utf-8") for p in RECIPES.glob("*.md"))
    ours = {"jira-csv", "jira-json", "github", "gitlab", "pagerduty", "opsgenie", "google-forms", "microsoft-forms", "linear-csv"}
    assert ours <= set(PRESETS)
    assert [name for name in sorted(ours) if f"`format: {name}`" not in text and f"`{name}`" not in text] == []
