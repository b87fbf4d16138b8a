"""The Vega bundle behind "Interactive" charts, made by vl-convert and cached per user.

The site's CSP allows no inline script and no 'unsafe-eval', and Vega compiles expressions with
`Function()` by default. vega-embed 7 switches to Vega's own expression interpreter when it is called
with `ast: true` (the interpreter ships inside the `vega` package that vl-convert bundles), so the
bundle only has to expose `vegaEmbed`; the site script passes `ast: true`.

Generating the bundle takes about 1.3 s and its text depends only on the vl-convert release and the
snippet, so it is kept in flowsite's cache folder (see cache.py: FLOWSITE_CACHE_DIR, else
XDG_CACHE_HOME/flowsite, else ~/.cache/flowsite; FLOWSITE_CACHE_DIR=off turns it off) under a name
holding both. An unwritable cache only costs the regeneration.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import subprocess
import sys
from pathlib import Path

from .cache import cache_dir, vl_convert_version

SNIPPET = "window.vegaEmbed = vegaEmbed;\n"
ASSET = "vega/vega-bundle.js"


def cache_key() -> str:
    # By vl-convert's installed version (which pins the Vega it bundles), read from its metadata:
    # importing the extension only to name the file took a rebuild 5-10 ms.
    digest = hashlib.sha256(SNIPPET.encode()).hexdigest()[:12]
    release = vl_convert_version()
    if release == "unknown":  # no metadata (a source checkout): the module says
        import vl_convert as vlc

        release = f"{vlc.__version__}-vega{vlc.get_vega_version()}"
    return f"vega-bundle-vlc{release}-{digest}.js"


def generate() -> bytes:
    import vl_convert as vlc

    return vlc.javascript_bundle(snippet=SNIPPET).encode("utf-8")


_PREFETCH: dict[str, subprocess.Popen] = {}


def prefetch() -> None:
    """Start making the bundle in a child process when it is not cached, so a cold build overlaps
    its 1-2 s with loading and metrics. (A thread would not do: while vl-convert bundles, imports
    in the build's own thread stall.) `vega_bundle()` takes the child's output."""
    folder = cache_dir()
    if "proc" in _PREFETCH or (folder is not None and (folder / "vega" / cache_key()).is_file()):
        return
    code = "import sys; from flowsite.vega_bundle import generate; sys.stdout.buffer.write(generate())"
    _PREFETCH["proc"] = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _prefetched() -> bytes | None:
    proc = _PREFETCH.pop("proc", None)
    if proc is None:
        return None
    data, _ = proc.communicate()
    # A failed child only costs making the bundle here, where an error is reported properly.
    return data if proc.returncode == 0 and data else None


def vega_bundle(*, use_cache: bool = True) -> bytes:
    """The bundle's bytes: from the cache when present, else generated (and cached)."""
    return _cached_or_generated(use_cache, _prefetched())


def _cached_or_generated(use_cache: bool, made: bytes | None = None) -> bytes:
    folder = cache_dir() if use_cache else None
    if folder is None:
        return made or generate()
    path = folder / "vega" / cache_key()
    try:
        data = path.read_bytes()
        if data:
            return data
    except OSError:
        pass
    data = made or generate()
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside, then rename: a concurrent build never reads half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".vega-bundle-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return data
