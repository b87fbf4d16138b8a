"""Atomic publishing of the output folder.

A build works in a staging folder beside OUT that starts as a hard-linked copy of OUT, writes only
new files there (never into a linked file), and swaps it into place when complete. A failed, killed
or concurrent build leaves OUT exactly as it was. Files are written through `write_bytes`, which
unlinks first, so a hard link shared with the published site is never modified in place.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

from .errors import BuildError, Problem

STAGING_PREFIX = ".flowsite-staging-"
OLD_PREFIX = ".flowsite-old-"
RENAME_EXCHANGE = 2


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    path.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def link_tree(src: Path, dst: Path) -> None:
    """Copy a tree as hard links (falls back to copies across file systems)."""
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            s, d = Path(root) / f, dst / rel / f
            try:
                os.link(s, d)
            except OSError:
                shutil.copy2(s, d)


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE) where the kernel offers it."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD = -100
    res = fn(AT_FDCWD, os.fsencode(str(a)), AT_FDCWD, os.fsencode(str(b)), RENAME_EXCHANGE)
    return res == 0


def check_output_dir(out: Path, project_dir: Path | None = None, data_dirs: list[Path] | None = None) -> None:
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise BuildError(problems=[Problem("the output path exists and is a file, not a folder", file=str(out), hint="pass --out with a folder path, or remove the file")])
    if project_dir is not None:
        project_dir = project_dir.resolve()
        if out == project_dir or project_dir.is_relative_to(out):
            raise BuildError(problems=[Problem("the output folder would contain the project itself", file=str(out), hint="use a subfolder such as site/")])
    for d in data_dirs or []:
        d = d.resolve()
        if out == d or out.is_relative_to(d):
            raise BuildError(problems=[Problem(f"the output folder is inside the data folder {d.name}/", file=str(out), hint="write the site outside the data folder, e.g. --out site")])
    parent = out.parent
    if not parent.exists():
        try:
            parent.mkdir(parents=True)
        except OSError as exc:
            raise BuildError(problems=[Problem(f"cannot create the output's parent folder: {exc.strerror}", file=str(parent))]) from None
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise BuildError(problems=[Problem("the output folder is not writable", file=str(out), hint="check permissions or choose another --out")])


def recover(out: Path) -> None:
    """Finish or undo a swap that a killed build left half done, and clear stale staging folders."""
    parent = out.parent
    if not parent.exists():
        return
    olds = sorted(parent.glob(f"{OLD_PREFIX}{out.name}-*"))
    if not out.exists() and olds:
        os.rename(olds[-1], out)
        olds = olds[:-1]
    for p in olds + sorted(parent.glob(f"{STAGING_PREFIX}{out.name}-*")):
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue
        remove_tree(p)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def lock(out: Path, wait_seconds: float = 30.0) -> Iterator[None]:
    """One build per output folder: a second one waits, then fails with a clear message."""
    path = out.parent / f".{out.name}.flowsite.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise BuildError(problems=[Problem(f"another flowsite build is writing this output folder (waited {wait_seconds:.0f} s)", file=str(out), hint="wait for it to finish, or build into another --out")]) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def transaction(out: Path, *, wait_seconds: float = 30.0) -> Iterator[Path]:
    """Yield a staging folder holding a copy of OUT; on success it becomes OUT atomically."""
    out = out.resolve()
    with lock(out, wait_seconds):
        recover(out)
        staging = out.parent / f"{STAGING_PREFIX}{out.name}-{os.getpid()}"
        remove_tree(staging)
        try:
            if out.exists():
                link_tree(out, staging)
            else:
                staging.mkdir(parents=True)
            yield staging
        except BaseException:
            remove_tree(staging)
            raise
        if out.exists():
            if _exchange(staging, out):
                remove_tree(staging)  # now holds the previous site
            else:
                old = out.parent / f"{OLD_PREFIX}{out.name}-{os.getpid()}"
                os.rename(out, old)
                os.rename(staging, out)
                remove_tree(old)
        else:
            os.rename(staging, out)
