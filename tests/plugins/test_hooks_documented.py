"""docs/plugins.md documents every hook of flowsite/hooks.py with its exact signature, and nothing else."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

from flowsite import hooks

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def hookspecs() -> dict[str, str]:
    return {name: f"{name}{inspect.signature(fn)}" for name, fn in vars(hooks).items()
            if callable(fn) and hasattr(fn, hooks.PROJECT + "_spec")}


def documented() -> dict[str, str]:
    heads = re.findall(r"^### `([a-z_]+)(\([^)]*\))`$", DOC.read_text(encoding="utf-8"), flags=re.M)
    return {name: name + args for name, args in heads}


def test_every_hook_is_documented_with_its_signature():
    specs, docs = hookspecs(), documented()
    assert len(specs) >= 8
    missing = sorted(set(specs) - set(docs))
    assert not missing, f"hooks missing from docs/plugins.md: {missing}"
    wrong = {n: (docs[n], specs[n]) for n in specs if docs[n] != specs[n]}
    assert not wrong, f"documented signature differs from flowsite/hooks.py: {wrong}"
    extra = sorted(set(docs) - set(specs))
    assert not extra, f"docs/plugins.md documents hooks that do not exist: {extra}"


def test_the_entry_point_group_is_the_documented_one():
    assert f"**`{hooks.ENTRY_POINT_GROUP}`**" in DOC.read_text(encoding="utf-8")
    pyproject = (Path(__file__).parent / "example_plugin" / "pyproject.toml").read_text()
    assert f'[project.entry-points."{hooks.ENTRY_POINT_GROUP}"]' in pyproject
