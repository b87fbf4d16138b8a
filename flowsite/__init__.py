"""flowsite: versioned static sites of business-IT alignment scorecards."""
from __future__ import annotations

import os

__version__ = "0.1.0"

# flowsite does no linear algebra, but numpy's OpenBLAS starts a helper thread per core when numpy
# is imported, and they spin for a tenth of a second of CPU taken from the build on two cores.
# Only a default: a value the user set is kept, and it matters only before numpy's first import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


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
