"""Earlier versions for a build that starts without them (artifact-based Pages deploys start empty).

A build can restore earlier versions from the published site (`--history-url`: versions.json, then
each version's manifest.json listing its files with sha256) or from a history archive
(`--history-archive`: a tar.gz of the whole output folder, which the build rewrites when done;
given both, an existing archive wins and the URL is the fallback).
Restored versions are downloaded or unpacked into a scratch folder beside OUT first, so a failed
download changes nothing; the build's transaction then links them into the new site.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import weakref
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import memo as memo_store
from .errors import BuildError, Problem, VersionError
from .publish import link_tree, remove_tree
from .versioning import Versions, read_default, sort_key, validate_name

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "flowsite/manifest/v1"
TIMEOUT = 30
SCRATCH_PREFIX = ".flowsite-history-"
MEMOS_KEPT = 200  # parsed documents kept in the cache (see History.document), the most recently used


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def manifest_bytes(files: dict[str, bytes], version: str, digests: dict[str, str] | None = None) -> bytes:
    """OUT/<version>/manifest.json: every file of the version with its size and sha256 (`digests`:
    the sha256 of files already hashed)."""
    digests = digests or {}
    # What json.dumps(doc, indent=1, sort_keys=True) writes, an entry at a time: its indenting
    # encoder is pure Python, a tenth of a second for the thirteen thousand files of a large site.
    entries = [f'  {{\n   "path": {json.dumps(rel)},\n   "sha256": "{digests.get(rel) or hashlib.sha256(data).hexdigest()}",\n   "size": {len(data)}\n  }}'
               for rel, data in sorted(files.items()) if rel != MANIFEST]
    metadata = json.dumps({"metadata": {"schema_version": MANIFEST_SCHEMA, "version": version}}, indent=1, sort_keys=True)
    body = ' "files": ' + ("[\n" + ",\n".join(entries) + "\n ]" if entries else "[]")
    return ("{\n" + body + ",\n" + metadata[2:] + "\n").encode("utf-8")


def _safe_rel(rel: str, source: str) -> str:
    p = PurePosixPath(rel)
    if not rel or "\\" in rel or p.is_absolute() or any(part in ("", ".", "..") for part in rel.split("/")):
        raise BuildError(problems=[Problem(f"refusing the unsafe path {rel!r} listed in a manifest", file=source)])
    return rel


@dataclass
class History:
    """Earlier versions known to this build: the output folder's, plus any restored ones."""

    out_dir: Path
    scratch: Path | None = None
    restored: Versions = field(default_factory=Versions)
    restored_default: str | None = None
    source: str | None = None
    notes: list[str] = field(default_factory=list)
    memo: Path | None = None  # a folder of the cache for the documents read (see document)
    _documents: dict[str, tuple[dict | None, str | None]] = field(default_factory=dict, repr=False)  # see document

    # ---- restoring -------------------------------------------------------------------------
    @classmethod
    def restore(cls, out_dir: Path, *, url: str | None = None, archive: str | Path | None = None) -> "History":
        h = cls(Path(out_dir))
        if not url and not archive:
            return h
        if archive and Path(archive).resolve().is_relative_to(h.out_dir.resolve()):
            raise BuildError(problems=[Problem("the history archive cannot live inside the output folder", file=str(archive), hint="keep it beside the site, e.g. --history-archive site-history.tar.gz")])
        # Beside OUT (same file system, so linking is cheap). Leftovers of a killed build are cleared here.
        h.out_dir.parent.mkdir(parents=True, exist_ok=True)
        for stale in h.out_dir.parent.glob(f"{SCRATCH_PREFIX}{h.out_dir.name}-*"):
            pid = stale.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                remove_tree(stale)
        h.scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{h.out_dir.name}-", suffix=f"-{os.getpid()}", dir=h.out_dir.parent))
        weakref.finalize(h, remove_tree, h.scratch)  # removed even when the build fails before close()
        try:
            if archive and Path(archive).is_file():
                h._from_archive(Path(archive))
            elif url:
                h._from_url(url)
            else:
                h.notes.append(f"no history archive at {archive} yet: starting a new history")
        except BaseException:
            h.close()
            raise
        return h

    def _from_archive(self, path: Path) -> None:
        self.source = str(path)
        try:
            with tarfile.open(path, "r:*") as tar:
                tar.extractall(self.scratch, filter="data")  # no absolute paths, no .., no links out
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BuildError(problems=[Problem(f"cannot read the history archive: {exc}", file=str(path), hint="pass a .tar.gz written by `flowsite build --history-archive`")]) from None
        if not (self.scratch / "versions.json").is_file():
            raise BuildError(problems=[Problem("the history archive has no versions.json at its top", file=str(path))])
        self.restored = Versions.load(self.scratch / "versions.json")
        for v in self.restored.items:
            validate_name(v.version)
            if not (self.scratch / v.version).is_dir():
                raise BuildError(problems=[Problem(f"the history archive lists version {v.version} but holds no {v.version}/ folder", file=str(path))])
        self.restored_default = read_default(self.scratch)

    def _get(self, url: str) -> bytes | None:
        """The body at url, None on 404; other failures are errors."""
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:  # noqa: S310 - http(s)/file URLs chosen by the user
                return resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise BuildError(problems=[Problem(f"cannot fetch {url}: HTTP {exc.code}", hint="check --history-url")]) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BuildError(problems=[Problem(f"cannot fetch {url}: {reason}", hint="check --history-url and the network")]) from None

    def _from_url(self, url: str) -> None:
        base = url.rstrip("/") + "/"
        if urllib.parse.urlsplit(base).scheme not in ("http", "https", "file"):
            raise BuildError(problems=[Problem(f"--history-url must be an http(s) address, got {url!r}")])
        self.source = base
        raw = self._get(base + "versions.json")
        if raw is None:
            self.notes.append(f"no versions.json at {base}: nothing published yet, starting a new history")
            return
        (self.scratch / "versions.json").write_bytes(raw)
        try:
            self.restored = Versions.load(self.scratch / "versions.json")
        except VersionError as exc:
            raise BuildError(problems=[Problem(f"the published versions.json is not in mike's format ({exc})", file=base + "versions.json")]) from None
        index = self._get(base + "index.html")
        if index is not None:
            (self.scratch / "index.html").write_bytes(index)
            self.restored_default = read_default(self.scratch)
        local = Versions.load(self.out_dir / "versions.json") if (self.out_dir / "versions.json").is_file() else Versions()
        jobs: list[tuple[str, str, str | None]] = []
        for v in self.restored.items:
            validate_name(v.version)
            if local.find(v.version) is not None and (self.out_dir / v.version).is_dir():
                continue  # the output folder already holds it
            mraw = self._get(f"{base}{v.version}/{MANIFEST}")
            if mraw is None:
                raise BuildError(problems=[Problem(f"version {v.version} is published without {MANIFEST}, so it cannot be restored file by file", file=f"{base}{v.version}/")],
                                 hint="rebuild that version once with this flowsite, or restore from a --history-archive")
            try:
                entries = json.loads(mraw)["files"]
                jobs += [(v.version, _safe_rel(e["path"], f"{base}{v.version}/{MANIFEST}"), e.get("sha256")) for e in entries]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise BuildError(problems=[Problem(f"unreadable manifest ({exc})", file=f"{base}{v.version}/{MANIFEST}")]) from None
            (self.scratch / v.version).mkdir(parents=True, exist_ok=True)
            (self.scratch / v.version / MANIFEST).write_bytes(mraw)

        def fetch(job: tuple[str, str, str | None]) -> None:
            version, rel, digest = job
            address = f"{base}{version}/{urllib.parse.quote(rel)}"
            data = self._get(address)
            if data is None:
                raise BuildError(problems=[Problem("listed in the manifest but not published (404)", file=address)])
            if digest and hashlib.sha256(data).hexdigest() != digest:
                raise BuildError(problems=[Problem("downloaded file does not match its manifest checksum", file=address, hint="the site may be mid-deploy; run the build again")])
            target = self.scratch / version / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for f in [pool.submit(fetch, j) for j in jobs]:
                f.result()
        self.notes.append(f"restored {len(self.restored.items)} version(s) ({len(jobs)} files) from {base}")

    def close(self) -> None:
        if self.scratch is not None:
            remove_tree(self.scratch)
            self.scratch = None

    # ---- using -----------------------------------------------------------------------------
    def merge(self, local: Versions) -> Versions:
        """Local versions win; restored ones are added (with aliases no local version holds)."""
        merged = Versions([type(v)(v.version, v.title, list(v.aliases), v.properties) for v in local.items])
        taken = merged.all_names()
        for v in self.restored.sorted().items:
            if v.version in taken:
                continue
            aliases = [a for a in v.aliases if a not in taken]
            merged.items.append(type(v)(v.version, v.title, aliases, v.properties))
            taken |= {v.version, *aliases}
        return merged

    def default(self, versions: Versions) -> str | None:
        d = self.restored_default
        return d if d and d in versions.all_names() else None

    def _folder(self, name: str) -> Path | None:
        for root in (self.out_dir, self.scratch):
            if root is not None and (root / name / "data" / "metrics.json").is_file():
                return root / name
        return None

    def document(self, name: str) -> dict | None:
        """Version NAME's data/metrics.json without its figure list (the compare page reads its
        metadata and scorecards), read once per build: the compare page reads the previous
        version's for its changes and again among the earlier ones for its trends. Not to be
        changed by the caller.

        With `memo`, a document is parsed once for as long as its file stays the same (its stat
        signature, which any write changes): at L a version's file is 15 MB, most of it the
        figure list, and parsing it took a quarter of a second, for each of up to 24 earlier versions."""
        if name not in self._documents:
            self._documents[name] = self._read_document(name)
        return self._documents[name][0]

    def documents_digest(self) -> str:
        """A digest of every document `document` read (and of the versions it found none for)."""
        return hashlib.sha256(json.dumps(sorted((name, d) for name, (_, d) in self._documents.items())).encode()).hexdigest()

    def _read_document(self, name: str) -> tuple[dict | None, str | None]:
        """(the document without its figure list, the sha256 of its file)."""
        folder = self._folder(name)
        if folder is None:
            return None, None
        path = folder / "data" / "metrics.json"
        try:
            memo = self._memo_path(path)
            got = memo_store.read(memo) if memo is not None else None
            if isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], dict) and isinstance(got[1], str):
                with contextlib.suppress(OSError):
                    os.utime(memo)  # a memo in use stays among the newest
                return got
            raw = path.read_bytes()
            doc = json.loads(raw.decode("utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return None, None
        if isinstance(doc, dict):
            doc.pop("figures", None)
        digest = hashlib.sha256(raw).hexdigest()
        if memo is not None and isinstance(doc, dict):
            memo_store.write(memo, (doc, digest), MEMOS_KEPT)
        return doc, digest

    def _memo_path(self, path: Path) -> Path | None:
        if self.memo is None:
            return None
        st = path.stat()
        signature = f"v1\0{os.fspath(path.resolve())}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"
        return self.memo / f"{hashlib.sha256(signature.encode()).hexdigest()}.pickle"

    def earlier(self, versions: Versions, version: str, limit: int = 24) -> list[dict]:
        """metrics.json of the versions older than VERSION, oldest first (at most LIMIT)."""
        older = sorted((v.version for v in versions.items if v.version != version and sort_key(v.version) < sort_key(version)), key=sort_key)
        docs = [d for d in (self.document(n) for n in older[-limit:]) if d is not None]
        return docs

    def apply(self, staging: Path, versions: Versions, skip: str) -> None:
        """Link restored version folders (and their alias folders) into the staging site."""
        if self.scratch is None:
            return
        for v in versions.items:
            if v.version == skip or self.restored.find(v.version) is None or (staging / v.version).exists():
                continue
            src = self.scratch / v.version
            if not src.is_dir():
                continue
            link_tree(src, staging / v.version)
            for a in v.aliases:
                remove_tree(staging / a)
                link_tree(src, staging / a)


def write_archive(out_dir: Path, path: str | Path) -> Path:
    """A reproducible tar.gz of the whole output folder (sorted, no owners, fixed times)."""
    out_dir, path = Path(out_dir).resolve(), Path(path).resolve()
    if path.is_relative_to(out_dir):
        raise BuildError(problems=[Problem("the history archive cannot be written inside the output folder", file=str(path), hint="write it beside the site, e.g. --history-archive site-history.tar.gz")])
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    mtime = int(epoch) if epoch.strip().isdigit() else 0
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for p in sorted(out_dir.rglob("*"), key=lambda q: q.relative_to(out_dir).as_posix()):
            if p.is_symlink() or not (p.is_file() or p.is_dir()):
                continue
            info = tar.gettarinfo(str(p), arcname=p.relative_to(out_dir).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = mtime
            info.mode = 0o755 if p.is_dir() else 0o644
            if p.is_file():
                info.type = tarfile.REGTYPE  # alias folders are hard links: store them as plain files
                info.linkname = ""
                info.size = p.stat().st_size
                with p.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    data = gzip.compress(buf.getvalue(), compresslevel=6, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
