"""flowsite: versioned static sites of business-IT alignment scorecards."""
from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy so `import flowsite` stays cheap and the import graph stays one-way.
    if name in ("build", "BuildResult", "check", "CheckResult"):
        from . import _build

        return getattr(_build, name)
    if name == "load_config":
        from .config import load_config

        return load_config
    raise AttributeError(name)


__all__ = ["__version__", "build", "BuildResult", "check", "CheckResult", "load_config"]
