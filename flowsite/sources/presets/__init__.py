"""Importer presets: each maps a real tool's export onto a canonical dataset.

A preset is a function `(config, spec) -> RawFrame` registered under its `format:` name.
"""
from __future__ import annotations

from typing import Callable

from ...config import Config, SourceSpec
from .._model import RawFrame

Preset = Callable[[Config, SourceSpec], RawFrame]
PRESETS: dict[str, Preset] = {}


def register(name: str) -> Callable[[Preset], Preset]:
    def deco(fn: Preset) -> Preset:
        PRESETS[name] = fn
        return fn

    return deco


def load_builtin() -> None:
    """Import the built-in preset modules so they register themselves."""
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
