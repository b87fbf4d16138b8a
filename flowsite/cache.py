"""The incremental build cache: content-addressed, so a rebuild redoes only what its inputs changed.

Keyed by content hashes (never by timestamps), so a stale entry can only be unused (charts are
drawn by flowsite itself, in less time than a cache read, so they need no cache):

- builds: every file of a version folder, keyed by the bytes of every input file, flowsite.yml,
  the theme, the pages, the versions already published and flowsite's version. A rebuild with
  nothing changed skips loading, metrics and rendering and only publishes again; when the
  published site is still exactly what that build left (the stat signature of every entry, kept
  per output folder in sites/), it does not publish at all.

File digests are remembered by stat signature (digests.json, like git's index), so unchanged
inputs are not read again; a file changed since shows a new ctime, which no user call can set back.

The cache lives in FLOWSITE_CACHE_DIR, else XDG_CACHE_HOME/flowsite, else ~/.cache/flowsite;
FLOWSITE_CACHE_DIR=off turns it off. An unwritable cache costs only the time it would have saved.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from . import __version__



def cache_dir() -> Path | None:
    env = os.environ.get("FLOWSITE_CACHE_DIR")
    if env and env.strip().lower() in ("off", "0", "no", "false"):
        return None
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "flowsite"


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        b = p.encode("utf-8") if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def vl_convert_version() -> str:
    """vl-convert makes the Vega bundle every version folder ships: part of a build's key."""
    try:
        from importlib.metadata import version

        return version("vl-convert-python")
    except Exception:  # noqa: BLE001 - any failure just narrows the cache key less
        return "unknown"



# ---- whole builds -------------------------------------------------------------------------------
KEEP_BUILDS = 6  # newest build entries kept; older ones and blobs only they used are pruned
BLOB_LIST = "blobs.txt"  # in a cache entry: the digests of the blobs it uses, one a line (what pruning reads)


class _DigestMemo:
    """sha256 of input files by stat signature (path, size, mtime_ns, ctime_ns, inode), like git's
    index: an unchanged file is not read again. Kept in the cache folder as digests.json; a missing
    or damaged memo only costs the reads it would have saved.

    Only files whose mtime and ctime are older than RACY_NS when hashed are remembered: a change
    after the stat then always shows in ctime (which no user call can set back), however coarse
    the file system's clock is.
    """

    RACY_NS = 2_000_000_000
    MAX = 200_000

    def __init__(self):
        self.entries: dict[str, list] | None = None
        self.root: Path | None = None
        self.dirty = False
        # Files too new for the memo, by signature, for the rest of one build only: a data file
        # edited just before a build is asked for by the build key and by its dataset's load key;
        # a version's files and its aliases' are one inode (links), read once.
        self.recent: dict[str, list] = {}
        self.inodes: dict[tuple[int, ...], str] = {}

    def _load(self) -> dict[str, list]:
        root = cache_dir()
        if self.entries is None or self.root != root:
            self.entries, self.root, self.dirty = {}, root, False
            raw = _read(root / "digests.json") if root is not None else None
            if raw:
                try:
                    doc = json.loads(raw)
                    if doc.get("v") == 1 and isinstance(doc.get("entries"), dict):
                        self.entries = {k: v for k, v in doc["entries"].items() if isinstance(v, list) and len(v) == 5}
                except (ValueError, AttributeError):
                    self.entries = {}
        return self.entries

    def digest(self, path: Path) -> str:
        if cache_dir() is None:
            return _hash_file(path)
        entries = self._load()
        key = os.fspath(path)
        now = time.time_ns()
        st = os.stat(key)
        sig = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        old = entries.get(key)
        if old is not None and old[:4] == sig and isinstance(old[4], str):
            return old[4]
        recent = self.recent.get(key)
        if recent is not None and recent[:4] == sig:
            return recent[4]
        inode = (st.st_dev, *sig)
        digest = self.inodes.get(inode) or _hash_file(path)
        self.inodes[inode] = digest
        if max(st.st_mtime_ns, st.st_ctime_ns) < now - self.RACY_NS:
            entries[key] = sig + [digest]
            self.dirty = True
        else:
            self.recent[key] = sig + [digest]
            if old is not None:
                entries.pop(key, None)  # datasets load in two threads; two may read one file
                self.dirty = True
        return digest

    def flush(self) -> None:
        root = cache_dir()
        if not self.dirty or root is None or self.entries is None or root != self.root:
            return
        entries = self.entries
        if len(entries) > self.MAX:
            entries = dict(list(entries.items())[-self.MAX:])
        _atomic_write(root / "digests.json", json.dumps({"v": 1, "entries": entries}, separators=(",", ":")).encode("utf-8"))
        self.dirty = False


_memo = _DigestMemo()


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    """sha256 of a file, read only when its stat signature differs from the memo's."""
    return _memo.digest(path)


def new_build() -> None:
    """Forget what is known for one build only: flowsite's code digest and the digests of files
    changed too recently for the memo (`build` calls this first)."""
    code_digest.cache_clear()
    _memo.recent.clear()
    _memo.inodes.clear()


def flush_digests() -> None:
    """Write the digest memo back to the cache folder (when it learnt anything)."""
    _memo.flush()


def _project_files(root: Path, skip: list[Path]) -> list[Path]:
    """Every file of the project folder (config, data, pages, maps, theme, metrics as code),
    without hidden folders and the output folder."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        here = Path(dirpath)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__" and (here / d).resolve() not in skip)
        out.extend(here / f for f in sorted(files) if not f.startswith("."))
    return out


def build_key(config, out_dir: Path, args: dict) -> str | None:
    """Content hash of every input of one version folder, or None when an input cannot be hashed
    (a database or warehouse source, a plugin from outside flowsite, a remote history)."""
    from . import plugins
    from .config import source_files

    if cache_dir() is None or args.get("history_url"):
        return None
    if plugins.outside_plugins(plugins.BUILTIN_PLUGINS):
        return None
    files = set(_project_files(config.project_dir, [out_dir.resolve()]))
    for spec in config.sources.values():
        if getattr(spec, "postgres", None) or getattr(spec, "dbt_ref", None):
            return None
        if getattr(spec, "duckdb", None):
            files.add(config.resolve(spec.duckdb))
        elif spec.path:
            try:
                files.update(source_files(config, spec))
            except Exception:  # noqa: BLE001 - the build itself reports a missing file properly
                return None
    if config.theme_dir is not None and config.theme_dir.is_dir():
        files.update(p for p in config.theme_dir.rglob("*") if p.is_file())
    archive = args.get("history_archive")
    if archive and Path(archive).is_file():
        files.add(Path(archive))
    env = {k: os.environ.get(k) for k in ("SOURCE_DATE_EPOCH", "TZ")}
    import datetime as dt

    parts = [__version__, vl_convert_version(), json.dumps(args, sort_keys=True, default=str), json.dumps(env, sort_keys=True), dt.date.today().isoformat()]
    for p in sorted(files):
        parts.append(f"{p}\0{_file_digest(p) if p.is_file() else '-'}")
    parts.append(code_digest())
    flush_digests()
    return _digest(*parts)


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """flowsite's own code and built-in theme: an edited checkout must not reuse older output.
    Asked for by several caches in a build: computed once per build (`build` clears it first, so a
    long-running `flowsite serve` sees an edited built-in theme)."""
    builtin = Path(__file__).parent
    parts = [__version__]
    for p in sorted(builtin.rglob("*")):
        if p.is_file() and p.suffix in (".py", ".html", ".css", ".js", ".yml", ".yaml", ".json", ".svg", ".woff2"):
            parts.append(f"{p.relative_to(builtin)}\0{_file_digest(p)}")
    return _digest(*parts)


def out_state(out_dir: Path) -> str:
    """Hash of what the published site feeds into a build: the version list, the default alias and
    the figures of every version (for the compare page)."""
    parts = []
    for p in [out_dir / "versions.json", out_dir / "index.html", *sorted(out_dir.glob("*/data/metrics.json")), *sorted(out_dir.glob("*/manifest.json"))]:
        if p.is_file():
            parts.append(f"{p.relative_to(out_dir)}\0{_file_digest(p)}")
    return _digest(*parts)


class BuildStore:
    """Version folders of earlier builds with the state the build needs to publish them again.
    File contents are stored once each, by hash, so builds that share files share storage."""

    def __init__(self):
        self.root = cache_dir()
        self._dirs: set[Path] = set()
        self._staged: Path | None = None

    def _entry_state(self, entry: Path) -> tuple[dict, Any] | None:
        raw = _read(entry / "index.json")
        state = _read(entry / "state.pickle")
        if raw is None or state is None:
            return None
        try:
            index = json.loads(raw)
            obj = pickle.loads(state)
            import polars as pl

            obj["frames"] = {name: pl.read_ipc(entry / f"{name}.arrow") for name in index.get("frames", [])}
        except Exception:  # noqa: BLE001 - a damaged entry is a miss, never a failed build
            return None
        return index, obj

    def load_state(self, key: str) -> tuple[list[str], Any] | None:
        """The state of the entry for `key` and the names of its files, without reading the files
        (for a site that is already exactly what this build published)."""
        if self.root is None:
            return None
        got = self._entry_state(self.root / "builds" / key)
        if got is None or not isinstance(got[0].get("files"), dict):
            return None
        with contextlib.suppress(OSError):
            os.utime(self.root / "builds" / key)
        return sorted(got[0]["files"]), got[1]

    def has_entry(self, key: str | None) -> bool:
        """Whether the entry for `key` is there as `load_state` needs it, without reading its state
        (for `flowsite build` with nothing to do); it is then kept as used, as `load_state` does."""
        if self.root is None or key is None:
            return False
        entry = self.root / "builds" / key
        raw = _read(entry / "index.json")
        try:
            if raw is None or not isinstance(json.loads(raw).get("files"), dict) or not (entry / "state.pickle").is_file():
                return False
        except (ValueError, AttributeError):
            return False
        with contextlib.suppress(OSError):
            os.utime(entry)
        return True

    def load(self, key: str, site_state: str) -> tuple[dict[str, bytes], Any] | None:
        """The entry for `key` if the published site is as that build found or left it (a rebuild
        of the same version over its own output publishes the same files)."""
        if self.root is None:
            return None
        entry = self.root / "builds" / key
        raw = _read(entry / "index.json")
        try:
            if raw is None or site_state not in json.loads(raw).get("site_states", []):
                return None
        except (ValueError, AttributeError):
            return None
        got = self._entry_state(entry)
        if got is None:
            return None
        index, obj = got
        files: dict[str, bytes] = {}
        for rel, digest in index["files"].items():
            data = _read(self.root / "blobs" / digest[:2] / digest)
            if data is None or hashlib.sha256(data).hexdigest() != digest:
                return None
            files[rel] = data
        with contextlib.suppress(OSError):
            os.utime(entry)
        obj["digests"] = dict(index["files"])
        return files, obj

    def adopt(self, path: Path, digest: str) -> None:
        """Keep a file this build has just written as the blob of its digest: a hard link rather than
        a second copy. Published files are replaced, never written into, and a blob is checked
        before use, so a link can at worst cost a miss."""
        if self.root is None:
            return
        blob = self.root / "blobs" / digest[:2] / digest
        try:
            if blob.parent not in self._dirs:
                blob.parent.mkdir(parents=True, exist_ok=True)
                self._dirs.add(blob.parent)
            os.link(path, blob)
        except OSError:  # already there, or another file system: `save` writes what is missing
            pass

    def stage(self, state: dict, frames: dict, written: Callable[[Any], Path | None] | None = None,
              pickled: Callable[[Any], bytes | None] | None = None) -> None:
        """Write an entry's state and frames into a new folder; `save` completes it. Runs while the
        site is published. `written(frame)`: a file that already holds that frame as Arrow IPC
        (lz4), linked instead of written again; `pickled(obj)`: the pickle of an object of the
        state, when already made (the per-value-stream cache's scorecards)."""
        self._staged = None
        if self.root is None:
            return
        try:
            tmp = Path(tempfile.mkdtemp(dir=self.root / "builds" if (self.root / "builds").is_dir() else _mk(self.root / "builds"), prefix=".tmp-"))
            self._staged = tmp
            for name, df in frames.items():
                src = written(df) if written is not None else None
                if src is not None:
                    with contextlib.suppress(OSError):
                        os.link(src, tmp / f"{name}.arrow")
                        continue
                df.write_ipc(tmp / f"{name}.arrow", compression="lz4")
            (tmp / "state.pickle").write_bytes(_dumps(state, pickled))
        except Exception:  # noqa: BLE001 - a cache that cannot be written costs the next build time, nothing else
            self.discard()

    def discard(self) -> None:
        """Remove what `stage` wrote (a build that failed before `save`)."""
        if self._staged is not None:
            shutil.rmtree(self._staged, ignore_errors=True)
            self._staged = None

    def save(self, key: str, files: dict[str, bytes], state: dict, frames: dict, site_states: list[str], digests: dict[str, str] | None = None,
             previous: str | None = None) -> None:
        """`previous`: the key of the build that published the site this one replaces; the blobs
        its entry lists are there (a blob is checked before use), most of this one's, and are not
        looked for one by one (thirteen thousand stat calls at scale)."""
        if self.root is None:
            return
        entry = self.root / "builds" / key
        try:
            index = {}
            blobs = os.fspath(self.root / "blobs")  # paths as text: thirteen thousand files at scale
            listed = _read(self.root / "builds" / previous / BLOB_LIST) if previous and previous != key else None
            present = set(listed.decode("ascii", "replace").split()) if listed else set()
            for rel, data in sorted(files.items()):
                digest = (digests or {}).get(rel) or hashlib.sha256(bytes(data)).hexdigest()
                index[rel] = digest
                blob = f"{blobs}/{digest[:2]}/{digest}"
                if digest not in present and not os.path.exists(blob):
                    _atomic_write(Path(blob), bytes(data))  # a publish.Spliced file read whole
            if self._staged is None:
                self.stage(state, frames)
            tmp, self._staged = self._staged, None
            if tmp is None:
                return
            try:
                (tmp / "index.json").write_text(json.dumps({"files": index, "frames": sorted(frames), "site_states": site_states}, sort_keys=True), encoding="utf-8")
                (tmp / BLOB_LIST).write_text("\n".join(sorted(set(index.values()))), encoding="ascii")
                if entry.exists():
                    shutil.rmtree(entry, ignore_errors=True)
                os.replace(tmp, entry)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)  # nothing left once it became the entry
            self._prune()
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            return

    # What a build left in an output folder: the stat signature of every entry of the published
    # site, taken at the end of the publish, and the sha256 of the files it wrote. A later build
    # with the same key over a site whose signatures all still match has nothing to do; one that
    # must publish again finds its unchanged files by signature instead of reading them.
    def _site_path(self, out_dir: Path) -> Path | None:
        return None if self.root is None else self.root / "sites" / f"{_digest(os.fspath(out_dir))[:32]}.pickle"

    def site_record(self, out_dir: Path) -> dict | None:
        path = self._site_path(out_dir)
        raw = _read(path) if path is not None else None
        if raw is None:
            return None
        try:
            rec = pickle.loads(raw)
        except Exception:  # noqa: BLE001 - a damaged record is no record
            return None
        if not isinstance(rec, dict) or rec.get("v") != 1 or rec.get("out") != os.fspath(out_dir) or not isinstance(rec.get("sigs"), dict) or not isinstance(rec.get("digests"), dict):
            return None
        return rec

    def save_site_record(self, out_dir: Path, record: dict) -> None:
        path = self._site_path(out_dir)
        if path is None:
            return
        try:
            _atomic_write(path, pickle.dumps(dict(record, v=1, out=os.fspath(out_dir)), protocol=pickle.HIGHEST_PROTOCOL))
        except (pickle.PicklingError, TypeError, AttributeError):
            return

    def drop_site_record(self, out_dir: Path) -> None:
        path = self._site_path(out_dir)
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()

    def _prune(self) -> None:
        builds = sorted((p for p in (self.root / "builds").iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime, reverse=True)
        if len(builds) <= KEEP_BUILDS:
            return
        for old in builds[KEEP_BUILDS:]:
            shutil.rmtree(old, ignore_errors=True)
        from .incremental import snapshot_blobs

        used = snapshot_blobs(self.root)  # scorecard pages the per-value-stream cache reuses
        for b in builds[:KEEP_BUILDS]:
            listed = _read(b / BLOB_LIST)
            if listed is not None:
                used.update(listed.decode("ascii", "replace").split())
                continue
            raw = _read(b / "index.json")
            if raw:
                used.update(json.loads(raw)["files"].values())
        # os.scandir, not Path.glob: a third of the time over the thirteen thousand blobs at scale.
        with os.scandir(self.root / "blobs") as shards:
            for shard in shards:
                if not shard.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(shard.path) as blobs:
                    for blob in blobs:
                        if blob.name not in used:
                            with contextlib.suppress(OSError):
                                os.unlink(blob.path)


def _dumps(obj: Any, pickled: Callable[[Any], bytes | None] | None) -> bytes:
    """pickle.dumps, with the objects `pickled` has a pickle of embedded as that pickle (loaded by
    pickle.loads): made while the site renders, and pickling hundreds of scorecards again held
    the interpreter for a fifth of a second at scale."""
    if pickled is None:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)

    class Pickler(pickle.Pickler):
        def reducer_override(self, o: Any) -> Any:
            raw = pickled(o)
            return NotImplemented if raw is None else (pickle.loads, (raw,))

    buf = io.BytesIO()
    Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
