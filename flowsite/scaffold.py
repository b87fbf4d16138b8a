"""`flowsite init`: write a working project (config, pages, maps, CI workflow and sample data)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import BuildError, Problem
from .sample import generate

TEMPLATE = resources.files("flowsite") / "project_template"


def _copy(src, dst: Path) -> None:
    for item in sorted(src.iterdir(), key=lambda p: p.name):
        target = dst / item.name
        if item.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            _copy(item, target)
        else:
            target.write_bytes(item.read_bytes())


def init_project(directory: Path, *, force: bool = False) -> dict[str, int]:
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise BuildError(problems=[Problem("exists and is not a folder", file=str(directory))])
    if directory.exists() and any(directory.iterdir()) and not force:
        raise BuildError(problems=[Problem("the folder is not empty", file=str(directory), hint="choose a new folder or pass --force")])
    directory.mkdir(parents=True, exist_ok=True)
    _copy(TEMPLATE, directory)
    return generate(directory)
