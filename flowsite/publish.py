"""Atomic publishing of the output folder.

A build works in a staging folder beside OUT that starts as a hard-linked copy of OUT, writes only
new files there (never into a linked file), and swaps it into place when complete. The copy can be
made beforehand by a child process while the build renders (`Prelink`); under the lock it is used
only if it still matches OUT entry for entry. A failed, killed or concurrent build leaves OUT
exactly as it was. Files are written through `write_bytes`, which
unlinks first, so a hard link shared with the published site is never modified in place.

A build may keep the site it replaced as the next build's starting point (`base_path`, beside
OUT): the few entries that differ from the new OUT are relinked, which costs far less than
linking every file of OUT again and removing the replaced site (28,000 files at scale). It too
is used only if, under the lock, it still matches OUT entry for entry.

One build per OUT at a time (a lock file beside OUT; a second build waits, then fails clearly). A
build that read OUT before taking the lock passes what it read as `expect`, and fails instead of
publishing over a version another build added meanwhile. A build killed at any point leaves OUT
as it was; the next one finishes or undoes a half-done swap and removes stale staging folders.

Test hook: FLOWSITE_TEST_PAUSE_AT=<stage> makes `pause_point(stage)` print "paused at <stage>" to
stderr and sleep (FLOWSITE_TEST_PAUSE_SECONDS, default 60; SIGUSR1 resumes), so a test can SIGKILL
the build there. Stages: waiting (lock busy), staged, written, swapped (see `transaction`).
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import glob
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Mapping

from .errors import BuildError, Problem

STAGING_PREFIX = ".flowsite-staging-"
OLD_PREFIX = ".flowsite-old-"
PRELINK_PREFIX = ".flowsite-prelink-"
RENAME_EXCHANGE = 2


def pause_point(stage: str) -> None:
    """Sleep here when FLOWSITE_TEST_PAUSE_AT names this stage (crash-safety tests kill the build).

    SIGUSR1 ends the pause early, so a test can hold a build at a stage and then let it go on.
    """
    if os.environ.get("FLOWSITE_TEST_PAUSE_AT") != stage:
        return
    resumed: list[bool] = []
    signal.signal(signal.SIGUSR1, lambda *_: resumed.append(True))
    print(f"paused at {stage}", file=sys.stderr, flush=True)
    deadline = time.monotonic() + float(os.environ.get("FLOWSITE_TEST_PAUSE_SECONDS", "60"))
    while not resumed and time.monotonic() < deadline:
        time.sleep(0.02)


def safe_relpath(rel: str) -> str:
    """A relative path that stays inside its folder; anything else is refused before it is joined."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel or any(p in ("", ".", "..") for p in parts):
        raise BuildError(problems=[Problem(f"refusing to write {rel!r}: it would leave the output folder", hint="an id from the data or config is not a plain name; this is a bug if flowsite accepted it")])
    return rel


class Spliced:
    """The bytes of a file to publish, made of byte ranges of an existing file (an open descriptor
    of it, so a rename or unlink meanwhile changes nothing) and bytes in memory, never held whole:
    at scale a drill-down CSV is mostly the last build's lines, hundreds of MB that would otherwise
    be read into memory, hashed there and written out again."""

    CHUNK = 1 << 20

    def __init__(self, source: Path, parts: list[tuple[int, int] | bytes], source_sha256: str | None = None):
        """`source_sha256`: the source's sha256, when known (it stands for ours when we are the whole source)."""
        self.fd = os.open(source, os.O_RDONLY)
        self.parts = parts
        self.size = sum(p[1] - p[0] if isinstance(p, tuple) else len(p) for p in parts)
        size = os.fstat(self.fd).st_size
        if any(isinstance(p, tuple) and p[1] > size for p in parts):
            os.close(self.fd)
            raise ValueError("a range past the end of its file")
        self.known = source_sha256 if source_sha256 and self.size == size and self._whole_source() else None
        self._thread: threading.Thread | None = None
        self._made: tuple[Path, str] | None = None  # (a file holding these bytes, their sha256)

    def materialize(self, folder: Path) -> None:
        """Start writing these bytes to FOLDER/<sha256[:2]>/<sha256> (a blob store) in a thread,
        hashing them on the way: the build goes on meanwhile (reading, hashing and writing release
        the interpreter), and publishing then links that file instead of copying hundreds of MB."""
        if self.known is None and self._thread is None:
            self._thread = threading.Thread(target=self._write_blob, args=(folder,), name="flowsite-splice", daemon=True)
            self._thread.start()

    def _write_blob(self, folder: Path) -> None:
        tmp = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Created as write_bytes creates a published file (the umask decides): it is published as a link.
            tmp = folder / f".tmp-{os.getpid()}-{secrets.token_hex(8)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            h = hashlib.sha256()
            try:
                for chunk in self.chunks():
                    h.update(chunk)
                    _write_all(fd, chunk)
            finally:
                os.close(fd)
            digest = h.hexdigest()
            dest = folder / digest[:2] / digest
            dest.parent.mkdir(exist_ok=True)
            if dest.exists():  # the same bytes already (kept as they are: their stat may be signed)
                os.unlink(tmp)
            else:
                os.rename(tmp, dest)
            tmp = None
            self._made = (dest, digest)
        except OSError:
            pass
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def made(self) -> tuple[Path, str] | None:
        """(the file `materialize` wrote, the sha256), once it is done; None if it was not asked or failed."""
        if self._thread is not None:
            self._thread.join()
        return self._made

    def _whole_source(self) -> bool:
        """Whether the parts are the source's bytes from its start to its end, in order."""
        at = 0
        for p in self.parts:
            if isinstance(p, tuple):
                if p[0] != at:
                    return False
                at = p[1]
            else:
                if os.pread(self.fd, len(p), at) != p:
                    return False
                at += len(p)
        return at == self.size

    def __len__(self) -> int:
        return self.size

    def __del__(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.close(self.fd)

    def chunks(self) -> Iterator[bytes]:
        for p in self.parts:
            if not isinstance(p, tuple):
                yield p
                continue
            at, end = p
            while at < end:
                got = os.pread(self.fd, min(self.CHUNK, end - at), at)
                if not got:
                    raise OSError(errno.EIO, "file shorter than when it was spliced")
                yield got
                at += len(got)

    def __bytes__(self) -> bytes:
        return b"".join(self.chunks())

    def sha256(self) -> str:
        if self.known is not None:
            return self.known
        made = self.made()
        if made is not None:
            return made[1]
        h = hashlib.sha256()
        for chunk in self.chunks():
            h.update(chunk)
        return h.hexdigest()

    def write(self, fd: int) -> None:
        """Into an open file: ranges copied by the kernel where it can, the rest written."""
        for p in self.parts:
            if not isinstance(p, tuple):
                _write_all(fd, p)
                continue
            at, end = p
            while at < end:
                try:
                    n = os.copy_file_range(self.fd, fd, end - at, at)
                except OSError:  # another file system, or no such call: through memory
                    n = 0
                if n <= 0:
                    got = os.pread(self.fd, min(self.CHUNK, end - at), at)
                    if not got:
                        raise OSError(errno.EIO, "file shorter than when it was spliced")
                    _write_all(fd, got)
                    n = len(got)
                at += n


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def file_bytes(data: bytes | Spliced) -> bytes:
    """The bytes themselves (a Spliced file read whole: only where a file's bytes are needed in memory)."""
    return bytes(data) if isinstance(data, Spliced) else data


def write_bytes(path: Path, data: bytes | Spliced) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    if isinstance(data, Spliced):
        made = data.made()
        if made is not None:
            with contextlib.suppress(OSError):  # else (another file system) copied below
                os.link(made[0], path)
                return
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            data.write(fd)
        finally:
            os.close(fd)
        return
    path.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def link_tree(src: Path, dst: Path) -> None:
    """Copy a tree as hard links (falls back to copies across file systems)."""
    _link_dir(os.fspath(src), os.fspath(dst))


def _link_dir(src: str, dst: str) -> None:
    try:
        os.mkdir(dst)  # the parent exists but for the top folder: no makedirs walk per folder
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(dst, exist_ok=True)
    with os.scandir(src) as it:
        entries = list(it)
    for e in entries:
        d = dst + "/" + e.name
        if e.is_dir(follow_symlinks=False):
            _link_dir(e.path, d)
            continue
        try:
            os.link(e.path, d, follow_symlinks=False)
        except OSError:
            shutil.copy2(e.path, d, follow_symlinks=False)


def same_tree(a: Path, b: Path) -> bool:
    """Whether B holds the same names as A, every file a link to the same inode (no stat calls:
    the inode comes with the folder listing). A hard-linked copy of A passes until A changes."""
    def walk(x: str, y: str) -> bool:
        with os.scandir(x) as it:
            want = {e.name: e for e in it}
        with os.scandir(y) as it:
            have = {e.name: e for e in it}
        if want.keys() != have.keys():
            return False
        for name, e in want.items():
            f = have[name]
            if e.is_dir(follow_symlinks=False):
                if not f.is_dir(follow_symlinks=False) or not walk(e.path, f.path):
                    return False
            elif f.is_dir(follow_symlinks=False) or e.inode() != f.inode():
                return False
        return True

    try:
        return walk(os.fspath(a), os.fspath(b))
    except OSError:
        return False


def _tree_job(job: str, *paths: Path) -> subprocess.Popen:
    """`link_tree` or `remove_tree` in a child process: plain system calls that run beside the
    build's Python work (a thread would wait for the interpreter lock between every two calls)."""
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    # The system's tools start in a millisecond, where Python takes a quarter second of CPU that
    # the build's own work on two cores then waits for. A `cp` that cannot link (another file
    # system, no -l) fails: a Prelink's copy is then dropped and linked in the transaction.
    tool = shutil.which({"remove_tree": "rm", "link_tree": "cp"}[job])
    if tool is not None:
        flags = ["-rf"] if job == "remove_tree" else ["-R", "-l", "-P"]
        return subprocess.Popen([tool, *flags, "--", *map(os.fspath, paths)], **quiet)
    code = ("import sys; from pathlib import Path; from flowsite import publish; paths = list(map(Path, sys.argv[2:]))\n"
            "if sys.argv[1] == 'remove_tree':\n    [publish.remove_tree(p) for p in paths]\nelse:\n    publish.link_tree(*paths)")
    here = os.fspath(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.Popen([sys.executable, "-c", code, job, *map(os.fspath, paths)], env=env, **quiet)


def base_path(out: Path) -> Path:
    """The hard-linked copy of OUT that a build leaves beside it for the next one to start from
    (see `transaction`'s `keep_base`), named like the lock file."""
    return out.parent / f".{out.name}.flowsite.base"


def take_base(out: Path, staging: Path) -> bool:
    """Move the copy of OUT a build kept (`base_path`) to STAGING when it still matches OUT entry
    for entry; else remove it. Call only while holding `lock(out)`."""
    base = base_path(out)
    if not base.is_dir() or base.is_symlink():
        return False
    if same_tree(out, base):
        with contextlib.suppress(OSError):
            os.rename(base, staging)
            return True
    with contextlib.suppress(OSError):
        remove_tree(base)  # OUT changed since the build that kept it
    return False


class Prelink:
    """A hard-linked copy of OUT made in a child process while the build renders, so that
    `transaction` need not make it while holding the lock, or the one the last build kept
    (`base_path`). It is used only if, under the lock, it still matches OUT entry for entry
    (`same_tree`); else it is dropped and the copy made there."""

    def __init__(self, out: Path):
        self.out = out.resolve()
        self.path = self.out.parent / f"{PRELINK_PREFIX}{self.out.name}-{os.getpid()}"
        self.proc: subprocess.Popen | None = None
        base = base_path(self.out)
        self.base: Path | None = base if base.is_dir() and not base.is_symlink() else None
        if self.base is not None:
            return  # checked under the lock; no copy made meanwhile
        try:
            remove_tree(self.path)
            self.proc = _tree_job("link_tree", self.out, self.path)
        except OSError:
            self.proc = None

    def take(self, staging: Path) -> bool:
        """Move the copy to STAGING when it is complete and still OUT's; False (and no copy) otherwise."""
        base, self.base = self.base, None
        if base is not None:
            return take_base(self.out, staging)
        proc, self.proc = self.proc, None
        if proc is None:
            return False
        if proc.wait() == 0 and same_tree(self.out, self.path):
            with contextlib.suppress(OSError):
                os.rename(self.path, staging)
                return True
        self.discard()
        return False

    def discard(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        with contextlib.suppress(OSError):
            remove_tree(self.path)


def sync_links(src: Path, dst: Path) -> None:
    """Make DST a hard-linked copy of SRC, keeping the entries of DST that already are links to
    the same files (an alias folder that follows its version) and replacing only the others."""
    if dst.is_symlink() or not dst.is_dir():
        remove_tree(dst)
        link_tree(src, dst)
        return
    _sync_dir(os.fspath(src), os.fspath(dst))


def _sync_dir(src: str, dst: str) -> None:
    with os.scandir(src) as it:
        want = {e.name: e for e in it}
    with os.scandir(dst) as it:
        have = list(it)
    # Inodes are comparable on one device. Both trees are in a staging folder made by linking (a
    # file on another device is copied there, never mounted), so a file is on its folder's device:
    # one stat per folder rather than two per file (28,000 files at scale).
    same_device = os.stat(src).st_dev == os.stat(dst).st_dev
    for e in have:
        w = want.get(e.name)
        if w is not None and e.is_dir(follow_symlinks=False) and w.is_dir(follow_symlinks=False):
            _sync_dir(w.path, e.path)
            del want[e.name]
        elif w is not None and same_device and not w.is_dir(follow_symlinks=False) and not e.is_dir(follow_symlinks=False) and e.inode() == w.inode():
            del want[e.name]  # already a link to the same file
        else:
            remove_tree(Path(e.path))
    for name, w in want.items():
        d = dst + "/" + name
        if w.is_dir(follow_symlinks=False):
            _link_dir(w.path, d)
        else:
            try:
                os.link(w.path, d, follow_symlinks=False)
            except OSError:
                shutil.copy2(w.path, d, follow_symlinks=False)


Signature = tuple


def tree_stat(root: Path) -> dict[str, Signature]:
    """The stat signature of every entry under ROOT, by relative path: (size, mtime_ns, ctime_ns,
    inode, mode) for files and links, ("dir",) for folders. Content changes show in mtime and
    ctime (ctime cannot be set back), replaced files in the inode, added and removed ones in the keys.

    A file's signature is its inode's: the links of an alias folder to its version's files (the
    folder listing gives each entry's inode) are not looked up again, half of the calls of a site
    with `latest`."""
    out: dict[str, Signature] = {}
    seen: dict[tuple[int, int], Signature] = {}  # (device, inode) -> signature

    def walk(path: str, prefix: str, device: int) -> None:
        with os.scandir(path) as it:
            for e in it:
                rel = prefix + e.name
                if e.is_dir(follow_symlinks=False):
                    out[rel] = ("dir",)
                    walk(e.path, rel + "/", e.stat(follow_symlinks=False).st_dev)  # a mount point starts another device
                else:
                    known = (device, e.inode())
                    sig = seen.get(known)
                    if sig is None:
                        st = e.stat(follow_symlinks=False)
                        sig = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode)
                        if st.st_ino == known[1]:  # a listing whose inodes are not the files' (some union mounts) is not trusted
                            seen[known] = sig
                    out[rel] = sig

    if root.is_dir() and not root.is_symlink():
        walk(os.fspath(root), "", root.stat().st_dev)
    return out


def fs_now(path: Path) -> int:
    """The file system's clock (the one it stamps files with) in ns, read by touching PATH."""
    os.utime(path)
    return os.stat(path).st_mtime_ns


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.flowsite.lock"


def _removal_groups(root: Path, n: int = 2) -> list[list[Path]]:
    """The folders directly under ROOT (a site: its version and alias folders) in N groups, for N
    removals side by side: one `rm -rf` of the 28,000 links of a site at L takes a third of a
    second of one core, while the build's own work after the swap is done sooner. ROOT itself
    (and what is directly in it) is removed once they are done."""
    with os.scandir(root) as it:
        folders = sorted(Path(e.path) for e in it if e.is_dir(follow_symlinks=False))
    return [group for group in (folders[i::n] for i in range(n)) if group]


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _keep_as_base(out: Path, replaced: Path) -> None:
    """Make the replaced site a linked copy of OUT (only the entries that differ are relinked) and
    keep it for the next build; remove it if that fails."""
    try:
        sync_links(out, replaced)
        os.rename(replaced, base_path(out))
    except OSError:
        with contextlib.suppress(OSError):
            remove_tree(replaced)


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
    blocker = next((p for p in [parent, *parent.parents] if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise BuildError(problems=[Problem(f"cannot create the output's parent folder: {blocker} is a file", file=str(out), hint="choose another --out")])
    if not parent.exists():
        try:
            parent.mkdir(parents=True)
        except OSError as exc:
            raise BuildError(problems=[Problem(f"cannot create the output's parent folder: {exc.strerror}", file=str(parent))]) from None
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise BuildError(problems=[Problem("the output folder is not writable", file=str(out), hint="check permissions or choose another --out")])


def _ours(parent: Path, prefix: str, name: str) -> list[Path]:
    """PARENT's folders PREFIX + NAME + "-<pid>": not those of a sibling output whose name starts with NAME."""
    return sorted(p for p in parent.glob(f"{glob.escape(prefix + name)}-*") if p.name[len(prefix) + len(name) + 1:].isdigit())


def recover(out: Path, keep: Path | None = None) -> None:
    """Finish or undo a swap that a killed build left half done, and clear stale staging folders.

    Call only while holding `lock(out)`: then no other build is using these folders, so every
    staging or old folder of OUT is a leftover (a PID check would be fooled by PID reuse).
    """
    parent = out.parent
    if not parent.exists():
        return
    olds = _ours(parent, OLD_PREFIX, out.name)
    if not out.exists() and olds:
        # Killed between the two renames of the fallback swap: put the previous site back.
        os.rename(olds[-1], out)
        olds = olds[:-1]
    for p in olds + _ours(parent, STAGING_PREFIX, out.name) + _ours(parent, PRELINK_PREFIX, out.name):
        if p != keep:  # this build's own linked copy (see Prelink)
            remove_tree(p)
    if not out.exists():
        remove_tree(base_path(out))  # a copy of a site that is gone


@contextlib.contextmanager
def lock(out: Path, wait_seconds: float | None = None) -> Iterator[None]:
    """One build per output folder: a second one waits (FLOWSITE_LOCK_WAIT seconds, default 30), then fails clearly."""
    if wait_seconds is None:
        try:
            wait_seconds = float(os.environ.get("FLOWSITE_LOCK_WAIT", "30"))
        except ValueError:
            raise BuildError(problems=[Problem(f"expected a number of seconds, got {os.environ['FLOWSITE_LOCK_WAIT']!r}", key="FLOWSITE_LOCK_WAIT")]) from None
    waited = False
    path = lock_path(out)
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as exc:
        raise BuildError(problems=[Problem(f"cannot create the lock file beside the output folder: {exc.strerror}", file=str(path), hint="check permissions or choose another --out")]) from None
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if not waited:
                    waited = True
                    pause_point("waiting")
                if time.monotonic() >= deadline:
                    raise BuildError(problems=[Problem(f"another flowsite build is writing this output folder (waited {wait_seconds:g} s)", file=str(out), hint="wait for it to finish, or build into another --out")]) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


def _changed(out: Path, expect: Mapping[str, bytes | None]) -> list[str]:
    changed = []
    for rel, before in sorted(expect.items()):
        p = out / rel
        now = p.read_bytes() if p.is_file() else None
        if now != before:
            changed.append(rel)
    return changed


def read_state(out: Path, *names: str) -> dict[str, bytes | None]:
    """The current bytes of files in OUT (None when absent), to pass as `transaction(expect=...)`."""
    return {n: ((out / n).read_bytes() if (out / n).is_file() else None) for n in names}


@contextlib.contextmanager
def transaction(out: Path, *, wait_seconds: float | None = None, expect: Mapping[str, bytes | None] | None = None,
                after: Callable[[], None] | None = None, meanwhile: Callable[[], None] | None = None,
                prelink: Prelink | None = None, keep_base: bool = False) -> Iterator[Path]:
    """Yield a staging folder holding a copy of OUT; on success it becomes OUT atomically.

    `expect`: files of OUT as the caller read them before the lock; if another build changed any
    of them meanwhile, fail rather than publish a site built from a stale view.
    `meanwhile`: called once the new site is in place, while a child process removes the
    replaced one; its errors are raised after `after` has run.
    `after`: called once the new site is in place and the replaced one removed (unlinking changes
    the status-change time of files it shares with the new one), still holding the lock (to record
    what was published); its errors are ignored, the site is already published.
    `prelink`: a linked copy of OUT made meanwhile, used as the staging folder if still OUT's.
    `keep_base`: the replaced site is not removed but made a linked copy of the new OUT (while
    meanwhile runs), kept at `base_path(out)` for the next build's Prelink; without it, a kept
    copy is removed (it no longer matches OUT).
    """
    out = out.resolve()
    with lock(out, wait_seconds):
        try:
            recover(out, keep=prelink.path if prelink is not None else None)
            changed = _changed(out, expect or {})
            if changed:
                raise BuildError(problems=[Problem(f"another build published to this output folder while this one was running ({', '.join(changed)} changed); nothing was written", file=str(out), hint="run the build again")])
            staging = out.parent / f"{STAGING_PREFIX}{out.name}-{os.getpid()}"
            remove_tree(staging)
            if not out.exists():
                staging.mkdir(parents=True)
            elif not (prelink.take(staging) if prelink is not None else take_base(out, staging)):
                link_tree(out, staging)
        except OSError as exc:
            raise BuildError(problems=[Problem(f"cannot prepare the output folder: {exc.strerror or exc}", file=str(out))]) from None
        pause_point("staged")
        try:
            yield staging
            pause_point("written")
            replaced = None
            if out.exists():
                if _exchange(staging, out):
                    pause_point("swapped")
                    replaced = staging  # now holds the previous site
                else:
                    replaced = out.parent / f"{OLD_PREFIX}{out.name}-{os.getpid()}"
                    os.rename(out, replaced)
                    pause_point("half-swapped")
                    os.rename(staging, out)
            else:
                os.rename(staging, out)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                recover(out)  # undo a half-done swap and drop our staging folder
            if isinstance(exc, OSError):
                raise BuildError(problems=[Problem(f"cannot write the output folder: {exc.strerror or exc}", file=str(exc.filename or out))]) from None
            raise
        removers: list[subprocess.Popen] = []
        keeper: threading.Thread | None = None
        with contextlib.suppress(OSError):
            remove_tree(base_path(out))  # normally taken as the staging folder; else stale now
        if replaced is not None and keep_base:
            keeper = threading.Thread(target=_keep_as_base, args=(out, replaced), name="flowsite-base", daemon=True)
            keeper.start()
        elif replaced is not None and meanwhile is not None:
            with contextlib.suppress(OSError):
                for group in _removal_groups(replaced):
                    removers.append(_tree_job("remove_tree", *group))
        failed: BaseException | None = None
        try:
            if meanwhile is not None:
                meanwhile()
        except BaseException as exc:
            failed = exc
        for remover in removers:
            remover.wait()
        if keeper is not None:
            keeper.join()
        if replaced is not None:
            with contextlib.suppress(OSError):  # a leftover is cleared by the next build's recover()
                remove_tree(replaced)  # whatever the child left (all of it if it could not start)
        if after is not None:
            with contextlib.suppress(Exception):
                after()
        if failed is not None:
            raise failed
