"""Every package flowsite imports is one its pyproject declares: a module-level import needs a core
dependency (a plain `pip install flowsite` has nothing else), an import inside a function at least
an optional one. The test extras install more than the core, so the suite alone would not notice."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group(0)).lower()


def _imports() -> list[tuple[str, bool, str]]:
    """(top-level package, imported at module level, where) of every absolute import in flowsite."""
    found = []
    for path in sorted((ROOT / "flowsite").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.append((name.split(".")[0], id(node) in top_level, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return found


def test_every_imported_package_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {_name(r) for r in project["dependencies"]}
    optional = {_name(r) for group in project["optional-dependencies"].values() for r in group}
    dists = packages_distributions()
    missing = []
    for top, module_level, where in _imports():
        if top in sys.stdlib_module_names or top in ("flowsite", "__future__"):
            continue
        names = {_name(d) for d in dists.get(top, [top])}
        needed = core if module_level else core | optional
        if not names & needed:
            missing.append(f"{where}: {top} ({'core' if module_level else 'any'} dependency expected)")
    assert not missing, "\n".join(missing)
