"""Results kept pickled in a folder of the cache by a key of what they were made from (a parsed
config, an earlier version's document): read back instead of made again, never trusted beyond
that, and the folder pruned to the most recently kept."""
from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any


def read(path: Path) -> Any | None:
    """What `write` kept at PATH; None when it is missing or damaged (the caller makes it again)."""
    try:
        return pickle.loads(path.read_bytes())
    except Exception:  # noqa: BLE001 - any unreadable memo is a miss
        return None


def write(path: Path, obj: Any, keep: int) -> None:
    """Keep OBJ at PATH (written whole or not at all) and only the KEEP newest memos of its folder.
    A memo that cannot be written costs the next build time, nothing else."""
    with contextlib.suppress(Exception):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)
        for old in sorted(path.parent.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)[keep:]:
            old.unlink()
