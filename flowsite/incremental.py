"""Per-value-stream incremental builds: after one value stream's data changed, recompute its metrics
and re-render its scorecard page, and reuse the cached rest.

Every loaded dataset gets a content digest per value stream (row hashes reduced per stream, in row
order; status changes belong to the value stream of their work item; rows of no value stream count
for a "global" part). A build's *context* digest covers everything all value streams share: flowsite's
code, polars, the project's files other than its data (config, pages, maps, theme), the environment,
as_of and the periods, the datasets' schemas and their global parts.

A snapshot in the cache folder (`streams/<context digest>/`) holds, for the last build in that
context, each value stream's digest, the per-stream metric frames (figures, drill-downs, daily WIP,
excluded-row counts; Arrow files checked by sha256) and each scorecard page with its chart specs (blobs
shared with the whole-build cache, checked by sha256). The next build in the same context computes
`compute_streams` for the value streams whose digest differs only and takes the others' rows from the
snapshot; a scorecard page is reused when its key (context, stream digest, the scorecard itself, its
narrative excerpts and the version being built) is unchanged. Anything unusual (no snapshot, a
damaged file, a schema mismatch, links between value streams, third-party plugins) means a full
compute: the cache can only cost time, never change a byte of the output.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import mmap
import os
import pickle
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import polars as pl

from .cache import BLOB_LIST, KEEP_BUILDS, _atomic_write, _digest, _file_digest, _project_files, _read, cache_dir, code_digest
from .artifacts import csv_bytes, csv_header
from .metrics import FAMILIES, StreamParts
from .metrics._counts import Count
from .background import in_thread
from .digests import RowState, _group_digests, _list_digest, dataset_digests, full_state, identical, row_hashes, updated_state
from .metrics._frame import stream_blocks
from .publish import Spliced, file_bytes, write_bytes

EXCL_SCHEMA = {"metric": pl.String, "reason": pl.String, "value_stream": pl.String, "n": pl.Int64}
SPEC_LINK = re.compile(rb'data-spec="(?:\.\./)*(charts/[^"/]+\.json)"')


# ---- digests -------------------------------------------------------------------------------------
def _sig(st: os.stat_result) -> list[int]:
    """What stands for a checksum of a cache file that is written once and never into: any write
    since (even one that puts the modification time back) changes the status-change time."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def frame_digests(frames: dict[str, pl.DataFrame], digest: Callable[[str, pl.DataFrame], dict] | None = None
                  ) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]], dict[str, dict[str, str]]]:
    """({value stream: digest of its rows in every dataset}, {dataset: digest of its rows of no value
    stream}, {dataset: {value stream: rows}}, {value stream: {dataset: digest of its rows}}).
    `digest(name, frame)`: a dataset's digests (see
    `dataset_digests`), called for the work items first (the status changes' depend on them)."""
    per: dict[str, dict[str, str]] = {}
    glob: dict[str, str] = {}
    sizes: dict[str, dict[str, int]] = {}
    for name, df in sorted(frames.items(), key=lambda kv: (kv[0] != "work_items", kv[0])):
        got = digest(name, df) if digest is not None else dataset_digests(name, df, frames)
        for vs, d in got["per"].items():
            per.setdefault(vs, {})[name] = d
        if got["glob"] is not None:
            glob[name] = got["glob"]
        if got["sizes"]:
            sizes[name] = dict(got["sizes"])
    return {vs: _digest(json.dumps(d, sort_keys=True)) for vs, d in per.items()}, glob, sizes, per


def links_between_streams(frames: dict[str, pl.DataFrame]) -> bool:
    """Whether a change or an incident names a deployment of another value stream (its figures then
    depend on two value streams' rows)."""
    deps = frames.get("deployments")
    if deps is None or not {"id", "value_stream"} <= set(deps.columns):
        return False
    for name, col in (("changes", "deployment_id"), ("incidents", "caused_by_deployment")):
        df = frames.get(name)
        if df is None or col not in df.columns or "value_stream" not in df.columns:
            continue
        j = df.select(pl.col(col).alias("_id"), "value_stream").drop_nulls("_id").join(deps.select(pl.col("id").alias("_id"), pl.col("value_stream").alias("_dep_vs")), on="_id")
        if j.filter(pl.col("_dep_vs") != pl.col("value_stream")).height:
            return True
    return False


def static_digest(config, out_dir: Path) -> str | None:
    """Digest of the inputs every value stream shares that are known before loading, or None when the
    build cannot be cached per value stream (cache off, a third-party plugin)."""
    from . import plugins

    if cache_dir() is None or set(plugins.names()) - plugins.BUILTIN_PLUGINS:
        return None
    data: set[Path] = set()
    for spec in config.sources.values():
        if spec.path and not (getattr(spec, "duckdb", None) or getattr(spec, "postgres", None) or getattr(spec, "dbt_ref", None)):
            from .sources.files import expand

            with contextlib.suppress(Exception):  # a missing file is the loader's to report
                data.update(p.resolve() for p in expand(config, spec))
    files = [p for p in _project_files(config.project_dir, [out_dir.resolve()]) if p.resolve() not in data]
    if config.theme_dir is not None and config.theme_dir.is_dir():
        files += [p for p in config.theme_dir.rglob("*") if p.is_file()]
    env = {k: os.environ.get(k) for k in ("SOURCE_DATE_EPOCH", "TZ")}
    parts = [code_digest(), pl.__version__, sys.version, json.dumps(env, sort_keys=True), str(config.project_dir)]
    parts += [f"{p}\0{_file_digest(p)}" for p in sorted(set(files))]
    return _digest(*parts)


def _signed_meta(entry: Path, name: str) -> dict | None:
    """A cache entry's meta.pickle, when readable and the entry's file `name` still has the stat
    signature it records; None otherwise (a damaged entry is a miss)."""
    raw = _read(entry / "meta.pickle")
    if raw is None:
        return None
    with contextlib.suppress(Exception):
        meta = pickle.loads(raw)
        if isinstance(meta, dict) and meta.get("sig") == _sig((entry / name).stat()):
            return meta
    return None


# ---- per-stream metric frames ----------------------------------------------------------------------
def _exclusion_frame(excl: dict[str, dict[str, int]]) -> pl.DataFrame | None:
    """Excluded-row counts per value stream, or None when one is not split per value stream."""
    rows = []
    for metric, reasons in excl.items():
        for reason, c in reasons.items():
            if not isinstance(c, Count) or None in c.per_stream:
                return None
            rows += [(metric, reason, vs, n) for vs, n in c.per_stream.items()]
    return pl.DataFrame(rows, schema=EXCL_SCHEMA, orient="row")


def _keep(df: pl.DataFrame, streams: set[str]) -> pl.DataFrame:
    return df.filter(pl.col("value_stream").is_in(sorted(streams)))


def _runs(df: pl.DataFrame) -> list[tuple[str, int, int]] | None:
    """(value stream, first row, row count) of each block of a frame sorted by value stream; None
    when the frame is not in such blocks."""
    runs = stream_blocks(df)
    names = [vs for vs, _, _ in runs]
    return runs if None not in names and names == sorted(set(names)) else None


def _csv_spans(data: bytes, start: int, runs: list[tuple[str, int, int]]) -> list[tuple[str, int, int]] | None:
    """(value stream, start, end) bytes of each block of rows of a CSV written from a frame in
    value stream blocks, or None when a line break inside a value makes lines and rows differ.
    Each block's end is found by counting line breaks in halving spans (C speed, no per-line loop)."""
    rows = sum(n for _, _, n in runs)
    if data.count(b"\n", start) != rows:
        return None
    out, pos = [], start
    for vs, _, n in runs:
        # The n-th line break after `pos`: first a span that holds it, then halve down to a few lines.
        lo, seen = pos, 0
        guess = max(256, (len(data) - start) // max(rows, 1) * n * 2)
        hi = min(len(data), lo + guess)
        while seen + (c := data.count(b"\n", lo, hi)) < n:
            if hi == len(data):
                return None
            lo, seen = hi, seen + c
            guess *= 2
            hi = min(len(data), hi + guess)
        while hi - lo > 4096:
            mid = (lo + hi) // 2
            c = data.count(b"\n", lo, mid)
            if seen + c >= n:
                hi = mid
            else:
                lo, seen = mid, seen + c
        for _ in range(n - seen):
            lo = data.index(b"\n", lo) + 1
        out.append((vs, pos, lo))
        pos = lo
    return out


def _splice(blob: Path, header: bytes, pieces: list) -> Spliced | None:
    """header + pieces, a (first, end) piece being that range of `blob`, never read into memory
    here (see publish.Spliced). None if the blob does not start with the same header or is
    shorter than the spans say."""
    try:
        with open(blob, "rb") as f:
            if f.read(len(header)) != header:
                return None
        return Spliced(blob, [header, *pieces], source_sha256=blob.name)  # a blob is named by its sha256
    except (OSError, ValueError):
        return None


def _blocks(old: pl.DataFrame, fresh: pl.DataFrame, kept: set[str]) -> pl.DataFrame:
    """The kept streams' rows of `old` and every row of `fresh`, in value stream order. Each frame is
    sorted by value stream first, so this is slices of the two laid side by side: no sort, no copy."""
    if old.schema != fresh.schema:
        raise ValueError("schema changed")
    old_runs, fresh_runs = _runs(old), _runs(fresh)
    if old_runs is None:
        old = old.sort("value_stream", maintain_order=True)
        old_runs = _runs(old)
    if fresh_runs is None:
        fresh = fresh.sort("value_stream", maintain_order=True)
        fresh_runs = _runs(fresh)
    if old_runs is None or fresh_runs is None:
        raise ValueError("rows of no value stream")
    blocks = [(vs, 0, start, n) for vs, start, n in old_runs if vs in kept] + [(vs, 1, start, n) for vs, start, n in fresh_runs]
    blocks.sort()
    if any(a[0] == b[0] for a, b in zip(blocks, blocks[1:])):
        raise ValueError("a value stream in both frames")
    pieces: list[tuple[int, int, int]] = []  # (source, first row, rows), adjacent slices joined
    for _, src, start, n in blocks:
        if pieces and pieces[-1][0] == src and pieces[-1][1] + pieces[-1][2] == start:
            pieces[-1] = (src, pieces[-1][1], pieces[-1][2] + n)
        else:
            pieces.append((src, start, n))
    frames = (old, fresh)
    if not pieces:
        return fresh.clear()
    return pl.concat([frames[src].slice(start, n) for src, start, n in pieces], rechunk=False)


def _as_cached(old: pl.DataFrame, fresh: pl.DataFrame, kept: set[str]) -> bool:
    """Whether `_blocks(old, fresh, kept)` is `old` itself: every value stream of `old` is kept or
    in `fresh`, and `fresh` holds exactly `old`'s rows of its value streams (a dataset the change
    did not touch)."""
    old_runs, fresh_runs = _runs(old), _runs(fresh)
    if old.schema != fresh.schema or old_runs is None or fresh_runs is None:
        return False
    at = {vs: (start, n) for vs, start, n in old_runs}
    recomputed = {vs for vs, _, _ in fresh_runs}
    if any(vs not in kept and vs not in recomputed for vs in at):
        return False
    return all(vs not in kept and vs in at and at[vs][1] == n and identical(fresh.slice(start, n), old.slice(*at[vs])) for vs, start, n in fresh_runs)


def _merge(old: dict, fresh: StreamParts, kept: set[str]) -> tuple[StreamParts, set[str]]:
    """The kept value streams' rows of the snapshot `old` with the `fresh` ones, and the names of
    the frames that came out as the snapshot's (its very frames: their files can be copied)."""
    if set(old["drill"]) != set(fresh.drilldown) or (old["wip"] is None) != (fresh.daily_wip is None):
        raise ValueError("different frames")
    figures = pl.concat([_keep(old["figures"], kept), fresh.figures], how="vertical_relaxed")
    same = {f"drill-{k}" for k, df in fresh.drilldown.items() if _as_cached(old["drill"][k], df, kept)}
    if fresh.daily_wip is not None and _as_cached(old["wip"], fresh.daily_wip, kept):
        same.add("daily_wip")
    drill = {k: old["drill"][k] if f"drill-{k}" in same else _blocks(old["drill"][k], df, kept) for k, df in fresh.drilldown.items()}
    wip = None if fresh.daily_wip is None else old["wip"] if "daily_wip" in same else _blocks(old["wip"], fresh.daily_wip, kept)
    kept_excl = _keep(old["excl"], kept)
    per: dict[tuple[str, str], dict[str, int]] = {}
    for metric, reason, vs, n in kept_excl.iter_rows():
        per.setdefault((metric, reason), {})[vs] = n
    excl: dict[str, dict[str, int]] = {}
    for metric, reasons in fresh.exclusions.items():
        excl[metric] = {}
        for reason, c in reasons.items():
            if not isinstance(c, Count):
                raise ValueError("exclusions not split per value stream")
            extra = per.pop((metric, reason), {})
            excl.setdefault(metric, {})[reason] = Count(int(c) + sum(extra.values()), {**c.per_stream, **extra})
    for (metric, reason), extra in per.items():
        if metric not in excl:
            raise ValueError("a metric's exclusions vanished")
        excl[metric][reason] = Count(sum(extra.values()), extra)
    return StreamParts(figures, drill, excl, wip, {**old["owner"], **fresh.owner}), same


def _ballasts(kept: set[str], sizes: dict[str, dict[str, int]]) -> list[set[str]]:
    """The value streams to compute alongside the changed ones, as a check: per dataset, the kept one
    of middling size (cheap, yet with rows in most frames), then the largest kept one."""
    ranked = [sorted(kept & set(n), key=lambda v: (n[v], v)) for n in sizes.values()]
    ranked = [r for r in ranked if r]
    middling, largest = {r[len(r) // 2] for r in ranked}, {r[-1] for r in ranked}
    return [middling] if middling == largest else [middling, largest]


def _same(old: dict, fresh: StreamParts, streams: set[str]) -> bool:
    """Whether `fresh` has exactly the cached rows for `streams`."""
    def eq(a: pl.DataFrame, b: pl.DataFrame, sort: bool = False) -> bool:
        a, b = _keep(a, streams), _keep(b, streams)
        if sort:
            a, b = a.sort(a.columns, nulls_last=True), b.sort(b.columns, nulls_last=True)
        return identical(a, b)

    if set(old["drill"]) != set(fresh.drilldown) or (old["wip"] is None) != (fresh.daily_wip is None):
        return False
    if not eq(old["figures"], fresh.figures, sort=True) or not all(eq(old["drill"][k], df) for k, df in fresh.drilldown.items()):
        return False
    if fresh.daily_wip is not None and not eq(old["wip"], fresh.daily_wip):
        return False
    excl = _exclusion_frame(fresh.exclusions)
    return excl is not None and eq(old["excl"], excl, sort=True)


def _rows_of(df: pl.DataFrame, streams: set[str]) -> pl.DataFrame:
    """The rows of `streams`, in the frame's order: slices when it is in value stream blocks."""
    runs = _runs(df)
    if runs is None:
        return _keep(df, streams)
    got = [df.slice(start, n) for vs, start, n in runs if vs in streams]
    return pl.concat(got, rechunk=False) if got else df.clear()


def _families(old: dict, datasets: dict[str, dict[str, str]], changed: set[str]) -> frozenset[str] | None:
    """The metric families (metrics.FAMILIES) whose datasets changed for any of `changed`, from
    {value stream: {dataset: digest of its rows}} now and in the snapshot (the other families'
    parts of those value streams are the snapshot's); None when it cannot say: compute them all."""
    was, owner = old.get("datasets"), old.get("owner")
    if not was or not owner:
        return None
    family_of = {n: f for f, names in FAMILIES.items() for n in names}
    touched = set()
    for vs in changed:
        a, b = was.get(vs, {}), datasets.get(vs, {})
        touched |= {n for n in a.keys() | b.keys() if a.get(n) != b.get(n)}
    if not touched or not touched <= family_of.keys():
        return None
    return frozenset(family_of[n] for n in touched)


def _with_other_families(old: dict, fresh: StreamParts, streams: set[str], families: frozenset[str]) -> StreamParts:
    """`fresh`, computed for `streams` in `families` only, completed with the snapshot's parts of
    `streams` in the other families, in the order a computation of every family gives them. Raises
    ValueError when the snapshot does not say which family made a part."""
    owner = old["owner"]

    def other(key: str) -> bool:
        if key in fresh.owner:
            return False
        if key not in owner:
            raise ValueError(f"no family for {key}")
        return owner[key] not in families

    figures = _rows_of(old["figures"], streams)
    metrics = figures.get_column("metric").unique().to_list()
    kept = [m for m in metrics if other(f"figures:{m}")]
    drill = {}
    for name in old["drill"]:
        if name in fresh.drilldown:
            drill[name] = fresh.drilldown[name]
        elif other(f"drill:{name}"):
            drill[name] = _rows_of(old["drill"][name], streams)
    drill.update((k, v) for k, v in fresh.drilldown.items() if k not in drill)
    wip = fresh.daily_wip
    if old["wip"] is not None and "wip" not in fresh.owner and other("wip"):
        wip = _rows_of(old["wip"], streams)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for metric, reason, vs, n in _keep(old["excl"], streams).iter_rows():
        counts.setdefault((metric, reason), {})[vs] = n
    excl: dict = {}
    for metric, reasons in old["skeleton"].items():
        if metric in fresh.exclusions:
            excl[metric] = fresh.exclusions[metric]
        elif other(f"excl:{metric}"):
            excl[metric] = {r: Count(sum((got := counts.get((metric, r), {})).values()), got) for r in reasons}
    excl.update((k, v) for k, v in fresh.exclusions.items() if k not in excl)
    parts = [fresh.figures, figures.filter(pl.col("metric").is_in(kept))] if kept else [fresh.figures]
    return StreamParts(pl.concat(parts, how="vertical_relaxed"), drill, excl, wip, {**owner, **fresh.owner})


def _subset(clipped: dict[str, pl.DataFrame], streams: set[str], codes: RowState | None = None) -> dict[str, pl.DataFrame] | None:
    """The rows of `streams` in every dataset, or None when a subset would not compute like the whole.
    `codes`: the status changes' row state of this build, made from this very frame (each row's
    value stream number, by its work item's id)."""
    ids = sorted(streams)
    out = {}
    for name, df in clipped.items():
        if "value_stream" in df.columns:
            out[name] = df.filter(pl.col("value_stream").is_in(ids))
    for name, df in clipped.items():
        if name in out:
            continue
        if name == "status_changes" and "work_items" in out and "item_id" in df.columns:
            if codes is not None and codes.codes is not None and len(codes.codes) == df.height:
                # Narrowed first by value stream number (integers, where the ids are a lookup of
                # 10M texts at L); the ids then decide, as without: every row of a work item of
                # `streams` has one of their numbers.
                narrowed = df.filter(codes.codes.is_in([i for i, vs in enumerate(codes.names) if vs in streams]).fill_null(False))
            else:
                narrowed = df
            sub = narrowed.filter(pl.col("item_id").is_in(out["work_items"].get_column("id").implode()))
            if df.height and not sub.height:
                return None  # flow metrics switch to "no status history" on an empty frame
            out[name] = sub
        else:
            return None  # a dataset of no value stream: only a full compute knows what it does
    return out


class StreamCache:
    """One build's view of the per-value-stream cache: `metrics()` in the metric stage, `lookup()` and
    `rendered()` while pages render, `save()` once the site is published."""

    def __init__(self, static: str):
        self.root = cache_dir()
        self.static = static
        self.context: str | None = None
        self.digests: dict[str, str] = {}
        self.stream_datasets: dict[str, dict[str, str]] = {}  # value stream -> dataset -> digest of its rows
        self.parts: StreamParts | None = None
        self.decomposable = False
        self.snapshot: dict | None = None
        self._prefetched: tuple[str, Callable[[], dict | None]] | None = None  # see _prefetch
        self.recomputed: list[str] | None = None  # value streams computed this build (None: all)
        self.kept: set[str] = set()  # value streams whose metric rows came from the snapshot
        self.checked: set[str] = set()  # value streams recomputed as the check (the ballast), found to be the snapshot's rows
        self._written: dict[int, tuple[pl.DataFrame, Path]] = {}  # frames `stage` wrote, by identity
        self.csv_spans: dict[str, list[tuple[str, int, int]] | None] = {}  # drill-down CSV: (value stream, start, end) bytes
        self.row_runs: dict[str, list[tuple[str, int, int]]] = {}  # drill-down frame: (value stream, first row, rows)
        self.csv_digests: dict[str, dict[str, str]] = {}  # figures.csv: value stream -> digest of its rows
        self.note = ""
        self.page_context: str | None = None
        self.figure_digests: dict[str, str] = {}  # value stream -> digest of its rows of the figures frame
        self._packs: dict[str, tuple | None] = {}  # see _pack
        self._pack_lock = threading.Lock()
        self.fragments: dict[str, bytes] = {}  # key -> html (UTF-8) of the rows this build used (see fragment_key)
        self.figure_blocks: dict[str, str] = {}  # figure digest -> a value stream's lines of data/metrics.json
        self.card_jsons: dict[str, str] = {}  # scorecard key -> its entry of data/metrics.json
        self._figures: pl.DataFrame | None = None  # the frame figure_digests were made from
        self.starts: dict[str, pl.DataFrame] | None = None  # see first_timestamps
        self.same_frames: set[str] = set()  # snapshot frames this build's merge returned as they were
        self.known_files: dict[str, tuple[bytes, str]] = {}  # reused files of the version folder: (the bytes taken, their sha256)
        self.pickled_packs: dict[str, dict[str, bytes]] = {"cards": {}, "card-files": {}, "charts": {}}  # pack -> key -> a pickled object this build used
        self._pickles: dict[int, bytes] = {}  # id of a scorecard -> its pickle (see pickled)
        self._pickled_objects: list = []  # keeps those ids taken
        self._card_keys: dict[int, str] = {}  # id of a scorecard -> its key
        self.page_keys: dict[str, str] = {}
        self.fresh_pages: dict[str, tuple[str, list[str]]] = {}
        self.reused_pages: dict[str, dict[str, str]] = {}
        self._staged: tuple[Path, dict[str, str] | None] | None = None
        self._prepared: dict | None = None  # the snapshot's index as far as `prepare` wrote it
        self._prepare_ran = False
        self._fresh_blobs: list[tuple[str, str]] = []  # (path, sha256) of the fresh pages' files, for their blobs
        self.load_keys: dict[str, str] = {}  # dataset -> key of its files and everything its loading depends on
        self.load_digests: dict[str, dict | None] = {}  # dataset -> per-stream digests kept with its cached load
        self.fresh_loads: dict[str, tuple] = {}
        self.new_digests: dict[str, dict] = {}
        self.row_states: dict[str, RowState] = {}  # datasets whose digests were computed this build
        self.project: str | None = None  # the project and output folder (see _volatile)
        self._states_of: dict[str, tuple[pl.DataFrame, RowState]] = {}  # dataset -> (the frame, its row state) made this build
        self._drills: tuple[dict[str, pl.DataFrame], Callable[[], dict]] | None = None  # see begin_drill_csvs

    @classmethod
    def open(cls, config, out_dir: Path) -> StreamCache | None:
        static = static_digest(config, out_dir)
        if static is None:
            return None
        cache = cls(static)
        cache.project = _digest(str(config.project_dir.resolve()), str(out_dir.resolve()))
        cache._prefetch()
        return cache

    def _prefetch(self) -> None:
        """Read the snapshot the last build used or made in a thread while the data loads: its
        context is only known once the data is (`metrics`), but a rebuild after a change to some
        value streams' rows almost always has the same one. A wrong guess costs only the reading."""
        if self.root is None:
            return
        with contextlib.suppress(OSError, ValueError):
            entries = [(e.stat().st_mtime_ns, e.name) for e in os.scandir(self.root / "streams") if e.is_dir() and not e.name.startswith(".")]
            if entries:
                context = max(entries)[1]
                self._prefetched = (context, in_thread(self._load, context))

    def _snapshot(self, context: str) -> dict | None:
        """The snapshot of `context`: the prefetched one when that was it, else read now."""
        got, self._prefetched = self._prefetched, None
        if got is not None:
            guessed, result = got
            snapshot = None
            with contextlib.suppress(Exception):  # a snapshot that cannot be read is a miss
                snapshot = result()
            if guessed == context:
                return snapshot
        return self._load(context)

    # -- loading --
    def loaded(self, config, name: str, spec) -> tuple[pl.DataFrame, object, list] | None:
        """A dataset as an earlier build loaded it from the same files: (frame, report, warnings),
        or None. Only datasets read from plain data files are kept (a database or an export preset
        may read more than its files)."""
        key = self._load_key(config, name, spec)
        if key is None:
            return None
        self.load_keys[name] = key
        entry = self.root / "loads" / f"{name}-{key}"
        meta = _signed_meta(entry, "frame.arrow")
        if meta is None:
            return None
        try:
            frame = pl.read_ipc(entry / "frame.arrow")
            if str(frame.schema) != meta["schema"] or frame.height != meta["rows"]:
                return None
            self.load_digests[name] = meta.get("digests")
        except Exception:  # noqa: BLE001 - a damaged entry is a miss, never a failed build
            return None
        with contextlib.suppress(OSError):
            os.utime(entry)
        return frame, meta["report"], meta["warnings"]

    def has_loaded(self, config, name: str, spec) -> bool:
        """Whether an earlier build's load of this dataset from the same files is kept (a look at
        the folder only: `loaded` checks it)."""
        key = self._load_key(config, name, spec)
        return key is not None and (self.root / "loads" / f"{name}-{key}").is_dir()

    def keep_loaded(self, name: str, frame: pl.DataFrame, report, warnings: list) -> None:
        """A dataset loaded afresh: written to the cache while the site is published."""
        if name in self.load_keys:
            with contextlib.suppress(Exception):  # pickled now: later stages must not change what is kept
                self.fresh_loads[name] = (frame, pickle.dumps((report, list(warnings)), protocol=pickle.HIGHEST_PROTOCOL))

    def _load_key(self, config, name: str, spec) -> str | None:
        from .sources.files import expand
        from .sources.load import reads_plain_files

        if self.root is None or not reads_plain_files(spec):
            return None
        try:
            paths = expand(config, spec)
        except Exception:  # noqa: BLE001 - the loader reports it
            return None
        return _digest(self.static, "load", name, *[f"{p}\0{_file_digest(p)}" for p in paths])

    def _digest_key(self, name: str) -> str | None:
        """What a dataset's per-stream digests depend on: its loaded data (and, for status changes,
        the work items that give each its value stream)."""
        key = self.load_keys.get(name)
        if key is None or (name == "status_changes" and "work_items" not in self.load_keys):
            return None
        return key + (":" + self.load_keys["work_items"] if name == "status_changes" else "")

    def _memo(self, name: str) -> dict | None:
        got = self.load_digests.get(name)
        key = self._digest_key(name)
        if key is None or not isinstance(got, dict) or got.get("key") != key:
            return None
        return got["value"]

    def _remember(self, name: str, digests: dict) -> None:
        key = self._digest_key(name)
        if key is not None:
            self.new_digests[name] = {"key": key, "value": digests}

    def _dataset_digests(self, name: str, df: pl.DataFrame, frames: dict[str, pl.DataFrame]) -> dict:
        """A dataset's digests: known from an earlier build of the same loaded data, else updated
        from the last build's row state of it (see digests.updated_state), else from every row."""
        got = self._memo(name)
        if got is not None:
            return got
        key = self.load_keys.get(name)
        result = None
        old = self._row_state(name) if key is not None else None
        if old is not None:
            with contextlib.suppress(pl.exceptions.PolarsError, ValueError, TypeError, IndexError):
                result = updated_state(old, name, df, frames, self._items_changed(old) if name == "status_changes" else None, self.row_states.get("work_items"))
        if result is None:
            result = full_state(name, df, frames)
        digests, state = result
        self._states_of[name] = (df, state)
        if key is not None:
            state.key = key
            state.items_key = self.load_keys.get("work_items") if name == "status_changes" else None
            self.row_states[name] = state
        self._remember(name, digests)
        return digests

    def _items_changed(self, old: RowState) -> pl.Series | None:
        """The id hashes of the work items that moved (a new id or value stream) since the work items
        `old` (a state of the status changes) was numbered with: none, some, or None when unknown."""
        now = self.load_keys.get("work_items")
        if now is None or old.items_key is None:
            return None
        if old.items_key == now:
            return pl.Series("ids", [], dtype=pl.UInt64)
        wi = self.row_states.get("work_items")
        return wi.changed_ids if wi is not None and wi.prev_key == old.items_key else None

    def _row_state(self, name: str) -> RowState | None:
        entry = self.root / "loads" / f"{name}.rows"
        raw = _read(entry / "meta.pickle")
        if raw is None:
            return None
        try:
            meta = pickle.loads(raw)
            if not isinstance(meta, dict) or meta.get("version") != self._state_version():
                return None
            cols = {col: _mapped_column(entry / f"{col}.npy", sig, meta["rows"], col in meta["nulls"]) for col, sig in meta["sigs"].items()}
            return RowState(cols["h"], cols.get("c"), meta["names"], cols.get("i"), meta["digests"], meta["schema"], meta["key"], meta["items_key"])
        except Exception:  # noqa: BLE001 - a damaged state is none
            return None

    @staticmethod
    def _state_version() -> str:
        return _digest(code_digest(), pl.__version__)

    def _stage_row_states(self) -> None:
        """The row states computed this build, for the next one: a raw array file per column, which
        the next build maps into memory rather than reads (see _mapped_column)."""
        base = self.root / "loads"
        for name, state in sorted(self.row_states.items()):
            with contextlib.suppress(Exception):  # a state that cannot be written costs the next build time, nothing else
                base.mkdir(parents=True, exist_ok=True)
                tmp = Path(tempfile.mkdtemp(dir=base, prefix=".tmp-"))
                try:
                    cols = {"h": state.h, **({"c": state.codes} if state.codes is not None else {}), **({"i": state.ids} if state.ids is not None else {})}
                    nulls = sorted(col for col, series in cols.items() if series.null_count())
                    for col, series in cols.items():
                        _save_column(tmp / f"{col}.npy", series)
                    meta = {"version": self._state_version(), "sigs": {col: _sig((tmp / f"{col}.npy").stat()) for col in cols}, "rows": len(state.h),
                            "nulls": nulls, "names": state.names, "digests": state.digests, "schema": state.schema, "key": state.key, "items_key": state.items_key}
                    (tmp / "meta.pickle").write_bytes(pickle.dumps(meta, protocol=pickle.HIGHEST_PROTOCOL))
                    entry = base / f"{name}.rows"
                    if entry.exists():
                        shutil.rmtree(entry, ignore_errors=True)
                    os.replace(tmp, entry)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)

    def _links(self, frames: dict[str, pl.DataFrame]) -> bool:
        """`links_between_streams`, remembered for the loaded data it was found in."""
        names = [n for n in ("deployments", "changes", "incidents") if n in frames]
        if self.root is None or any(n not in self.load_keys for n in names):
            return links_between_streams(frames)
        memo = self.root / "loads" / "links" / _digest(*(f"{n}\0{self.load_keys[n]}" for n in names))
        raw = _read(memo)
        if raw in (b"0", b"1"):
            return raw == b"1"
        linked = links_between_streams(frames)
        _atomic_write(memo, b"1" if linked else b"0")
        return linked

    def _volatile(self) -> set[str]:
        """The datasets loaded afresh whose files changed in the last build of this project that
        loaded data, as they did in this one: an export refreshed for every run. Their frames
        are not kept, since the next build will almost surely find their files changed again
        (at L, compressing and writing the status changes' 10M rows took 0.6 s of CPU beside
        the pages, for an entry never read). A dataset changed after a build that found it
        unchanged is kept, and one whose files then stay the same is kept by the next build.
        Records this build's load keys, and which of them changed, for the next build to ask the
        same (one small JSON file per project and output folder, the newest 64 kept)."""
        if self.project is None:
            return set()
        path = self.root / "loads" / "seen" / f"{self.project}.json"
        last: dict = {}
        with contextlib.suppress(OSError, ValueError, TypeError):
            got = json.loads(path.read_bytes())
            last = got if isinstance(got, dict) else {}
        now = {}
        for name, key in self.load_keys.items():
            prev = last.get(name)
            prev = prev if isinstance(prev, list) and len(prev) == 2 else None
            now[name] = [key, prev is not None and prev[0] != key]
        with contextlib.suppress(OSError):
            _atomic_write(path, json.dumps(now, sort_keys=True).encode())
            seen = sorted((p for p in path.parent.iterdir() if p.suffix == ".json" and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in seen[64:]:
                old.unlink()
        return {name for name in self.fresh_loads if name in now and now[name][1] and last[name][1]}

    def _stage_loads(self) -> None:
        """Write the datasets loaded afresh (but the volatile ones), and new per-stream digests of cached ones."""
        base = self.root / "loads"
        volatile = self._volatile()
        for name in sorted((set(self.fresh_loads) | set(self.new_digests)) - volatile):
            key = self.load_keys[name]
            entry = base / f"{name}-{key}"
            try:
                if name in self.fresh_loads:
                    frame, described = self.fresh_loads[name]
                    report, warnings = pickle.loads(described)
                    base.mkdir(parents=True, exist_ok=True)
                    tmp = Path(tempfile.mkdtemp(dir=base, prefix=".tmp-"))
                    try:
                        frame.write_ipc(tmp / "frame.arrow", compression="lz4")
                        if entry.exists():
                            shutil.rmtree(entry, ignore_errors=True)
                        os.replace(tmp, entry)
                    finally:
                        shutil.rmtree(tmp, ignore_errors=True)
                    meta = {"sig": _sig((entry / "frame.arrow").stat()), "schema": str(frame.schema), "rows": frame.height, "report": report, "warnings": warnings}
                else:  # a cached dataset whose per-stream digests were computed this build
                    raw = _read(entry / "meta.pickle")
                    if raw is None:
                        continue
                    meta = pickle.loads(raw)
                meta["digests"] = self.new_digests.get(name)
                _atomic_write(entry / "meta.pickle", pickle.dumps(meta, protocol=pickle.HIGHEST_PROTOCOL))
            except Exception:  # noqa: BLE001 - a cache that cannot be written costs the next build time, nothing else
                continue
            # The newest entries of each dataset (and links found) are kept, as many as whole-build entries.
            with contextlib.suppress(OSError):
                entries = sorted((p for p in base.glob(f"{name}-*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
                for old in entries[KEEP_BUILDS:]:
                    shutil.rmtree(old, ignore_errors=True)
        with contextlib.suppress(OSError):
            links = sorted((base / "links").iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in links[KEEP_BUILDS:]:
                old.unlink()

    # -- metrics --
    def metrics(self, frames: dict[str, pl.DataFrame], clipped: dict[str, pl.DataFrame], periods, as_of_end, vs_ids: list[str],
                compute: Callable[..., StreamParts]) -> StreamParts:
        digests, glob, sizes, per = frame_digests(frames, lambda name, df: self._dataset_digests(name, df, frames))
        self.digests, self.stream_datasets = digests, per
        shape = {name: [str(df.schema), clipped[name].height > 0] for name, df in sorted(frames.items())}
        self.context = _digest(self.static, json.dumps([[p.label, p.start.isoformat(), p.end.isoformat()] for p in periods]), as_of_end.isoformat(),
                               json.dumps(shape, sort_keys=True), json.dumps(glob, sort_keys=True), json.dumps(vs_ids))
        linked = self._links(frames)
        self.snapshot = self._snapshot(self.context)
        parts = None
        old = self.snapshot.get("metrics") if self.snapshot and not linked else None
        if old is not None:
            drill = self._drill_frames()
            streams = set(digests) | set(vs_ids)
            changed = {vs for vs in streams if old["digests"].get(vs) != digests.get(vs)}
            kept = (streams - changed) & set(old["digests"])
            try:
                if changed:
                    # Only the families whose datasets changed are computed (the others' parts come
                    # from the snapshot), and with them an unchanged value stream of each of their
                    # datasets as a check (its rows must come out as cached): a middling one first,
                    # the largest if that differs.
                    fams = _families(old, per, changed)
                    names = set(clipped) if fams is None else {n for f in fams for n in FAMILIES[f]}
                    for ballast in _ballasts(kept, {n: c for n, c in sizes.items() if n in names}):
                        streams = changed | ballast
                        subset = _subset({n: df for n, df in clipped.items() if n in names}, streams, self._codes_of("status_changes", clipped))
                        if subset is None:
                            break
                        fresh = compute(subset, [v for v in vs_ids if v in streams], fams)
                        drill()
                        if fams is not None:
                            fresh = _with_other_families(old, fresh, streams, fams)
                        if _same(old, fresh, ballast):
                            parts, self.same_frames = _merge(old, fresh, kept - ballast)
                            self.kept, self.checked = kept - ballast, ballast
                            break
                else:
                    drill()
                    parts, self.same_frames = _merge(old, _empty_like(old), kept)
                    self.kept = kept
                if parts is not None:
                    self.recomputed = sorted(changed)
            except (ValueError, pl.exceptions.PolarsError):
                parts = None
        if parts is None:
            parts = compute(clipped, vs_ids)
            self.recomputed = None
            self.kept, self.checked, self.same_frames = set(), set(), set()
        self.note = "links between value streams: computed in full" if linked else (
            f"{len(self.recomputed)} value stream(s) recomputed, the others cached" if self.recomputed is not None else "computed in full")
        self.parts = parts
        self.decomposable = not linked
        self._states_of.clear()  # they hold the loaded frames, which the build lets go of after the metrics
        return parts

    def _codes_of(self, name: str, clipped: dict[str, pl.DataFrame]) -> RowState | None:
        """The row state this build made of dataset `name`, when made from the frame the metrics see."""
        got = self._states_of.get(name)
        return got[1] if got is not None and clipped.get(name) is got[0] else None

    def _drill_frames(self) -> Callable[[], None]:
        """Begin reading the snapshot's drill-down frames in a thread: the largest part of it,
        needed only once the changed value streams are computed. Read with the snapshot, they
        took CPU from loading the data, which keeps both cores busy; the metric stage leaves
        one spare. The function returned waits for them and puts them in the snapshot (as
        "drill", which the merge and the drill-down CSVs read); it raises ValueError if one is
        damaged, and the snapshot's metrics are then none. Not waited for, they are never used."""
        m = (self.snapshot or {}).get("metrics")
        files = m.pop("drill_files", None) if m is not None else None
        if files is None:
            return lambda: None
        result = in_thread(_read_signed, files)

        def wait() -> None:
            if "drill" in m:
                return
            try:
                m["drill"] = result()
            except Exception as exc:  # noqa: BLE001 - any unreadable frame: a miss
                if self.snapshot is not None and self.snapshot.get("metrics") is m:
                    self.snapshot["metrics"] = None
                raise ValueError("a damaged snapshot frame") from exc
        return wait

    def first_timestamps(self, clipped: dict[str, pl.DataFrame], compute: Callable[[dict[str, pl.DataFrame]], dict[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
        """`compute(clipped)` (metrics.first_timestamps), with the kept value streams' rows from the
        snapshot: their rows are the same, so are their first timestamps."""
        old = ((self.snapshot or {}).get("metrics") or {}).get("starts") if self.kept and self.recomputed is not None else None
        got = None
        if old is not None:
            kept = sorted(self.kept)
            with contextlib.suppress(pl.exceptions.PolarsError):
                fresh = compute({name: df.filter(~pl.col("value_stream").is_in(kept)) for name, df in clipped.items() if "value_stream" in df.columns})
                got = {}
                for name in sorted(set(old) | set(fresh)):
                    parts = ([old[name].filter(pl.col("value_stream").is_in(kept))] if name in old else []) + ([fresh[name]] if name in fresh else [])
                    got[name] = pl.concat(parts)
        if got is None:
            got = compute(clipped)
        self.starts = got
        return got

    # -- scorecards --
    def _figures_seen(self, figures: pl.DataFrame) -> None:
        if self._figures is not figures:
            self._figures = figures
            self.figure_digests = {vs: d for vs, d, _ in _group_digests(figures.get_column("value_stream"), row_hashes(figures))}

    def scorecards(self, results) -> Callable[[str, Callable[[], Any]], Any] | None:
        """`reuse` for scorecard.build_scorecards: a value stream's scorecard is made from its rows
        of the figures, its first timestamps, the datasets' first timestamps and the context (the
        config, periods, maps and flowsite's code), so it is kept while those are the same."""
        if self.context is None:
            return None
        self._figures_seen(results.figures)
        starts = json.dumps({k: v.isoformat() for k, v in sorted(results.data_start.items())})
        per: dict[str, list] = {}
        for (name, vs), first in sorted(results.stream_start.items()):
            per.setdefault(vs, []).append([name, first.isoformat()])

        def reuse(vs: str, make: Callable[[], Any]) -> Any:
            if vs not in self.digests or vs not in self.figure_digests:
                return make()
            key = _digest(self.context, "scorecard", vs, self.digests[vs], self.figure_digests[vs], starts, json.dumps(per.get(vs)))
            got = self._packed("cards", key)
            card, raw = got if got is not None else (make(), None)
            raw = raw or self._pickle_into("cards", key, card)
            if raw is not None:
                self._pickles[id(card)], self._card_keys[id(card)] = raw, key
                self._pickled_objects.append(card)
            return card
        return reuse

    def card_files(self, card: Any, make: Callable[[], dict[str, bytes]]) -> dict[str, bytes]:
        """Files made from one scorecard alone (its badges): from the last build when this very
        scorecard came from `scorecards` under a key the last build made them for."""
        key = self._card_keys.get(id(card))
        if key is None:
            return make()
        got = self._packed("card-files", key, lambda f: isinstance(f, dict) and all(isinstance(k, str) and isinstance(v, bytes) for k, v in f.items()))
        if got is not None:
            return got[0]
        files = make()
        self._pickle_into("card-files", key, files)
        return files

    # -- charts made from rows of several value streams --
    def chart_key(self, name: str, rows: pl.DataFrame, parts: list, hashes: pl.Series | None = None, columns: list[str] | None = None) -> str | None:
        """With `hashes`, the `row_hashes` of the rows' `columns`, made already."""
        if self.context is None:
            return None
        if hashes is None:
            hashes, columns = row_hashes(rows), rows.columns
        return _digest(self.context, "chart", name, json.dumps(parts, sort_keys=True, default=str), _list_digest(hashes), json.dumps(columns))

    def chart(self, key: str) -> tuple[str, str, str, str] | None:
        """(spec JSON, SVG, title, description) of a chart the last build made under `key`."""
        got = self._packed("charts", key, lambda c: isinstance(c, tuple) and len(c) == 4 and all(isinstance(x, str) for x in c))
        return None if got is None else got[0]

    def keep_chart(self, key: str, chart: tuple[str, str, str, str]) -> None:
        self._pickle_into("charts", key, chart)

    # -- objects kept pickled in packs --
    def _packed(self, pack: str, key: str, ok: Callable[[Any], bool] = lambda _: True) -> tuple[Any, bytes] | None:
        """(object, its pickle) the last build kept in `pack` under `key`, when it reads back and
        `ok` takes it (else it is made again); kept for this build's snapshot too."""
        raw = self._pack_item(pack, key)
        if raw is not None:
            with contextlib.suppress(Exception):
                obj = pickle.loads(raw)
                if ok(obj):
                    self.pickled_packs[pack][key] = raw
                    return obj, raw
        return None

    def _pickle_into(self, pack: str, key: str, obj: Any) -> bytes | None:
        """Pickle an object made this build into this build's `pack` (None when it cannot be pickled)."""
        try:
            raw = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an object that cannot be kept is made again next time
            return None
        self.pickled_packs[pack][key] = raw
        return raw

    def pickled(self, obj: Any) -> bytes | None:
        """The pickle of a scorecard this build made or read (for the whole-build entry's state)."""
        return self._pickles.get(id(obj))

    # -- drill-down CSVs and figures.csv --
    def begin_drill_csvs(self, drilldown: dict[str, pl.DataFrame]) -> None:
        """Make the drill-down CSVs (`drill_csv`) in a thread as soon as the metrics are known, largest
        first, when the last build's files can be spliced: the changed value streams' lines are
        written by polars and the spliced files then written out as blobs, the longest chain of a
        rebuild's render stage, while the scorecards are assembled; begun with the render stage,
        the lines waited behind the cache's frames, which are written from then on."""
        if not self.kept or self._drills is not None:
            return
        order = sorted(drilldown.items(), key=lambda item: (-item[1].height, item[0]))
        self._drills = (drilldown, in_thread(lambda: {name: self._drill_csv(name, df) for name, df in order}))

    def drill_csv(self, name: str, df: pl.DataFrame) -> bytes | Spliced:
        """data/<name>.csv: the one `begin_drill_csvs` made for this very frame, else made now."""
        if self._drills is not None and self._drills[0].get(name) is df:
            return self._drills[1]()[name]
        return self._drill_csv(name, df)

    def _drill_csv(self, name: str, df: pl.DataFrame) -> bytes | Spliced:
        """data/<name>.csv. A value stream whose rows are those of the snapshot (it came from it, or
        was recomputed to the same rows) has the same lines as in the last build's file (a row's
        CSV line depends on that row alone), so they are read from it straight into place; only
        the other value streams' rows are written."""
        runs = _runs(df) if df.height else None
        return self._spliced_csv(name, df, runs, lambda: self._same_rows(name, df, runs))

    def figures_csv(self, df: pl.DataFrame) -> bytes | Spliced:
        """data/figures.csv, as `drill_csv`: a value stream whose figure rows hash as they did in
        the last build's file has the same lines. Compared by digest, not by `kept`: maps and
        plugins add figures the per-value-stream cache does not see."""
        runs = _runs(df) if df.height else None
        digests = {vs: d for vs, d, _ in _group_digests(df.get_column("value_stream"), row_hashes(df))} if runs is not None else {}
        self.csv_digests["figures"] = digests
        old = ((self.snapshot or {}).get("csv", {}).get("figures") or {}).get("streams") or {}
        return self._spliced_csv("figures", df, runs, lambda: {vs for vs, d in digests.items() if old.get(vs) == d})

    def _spliced_csv(self, name: str, df: pl.DataFrame, runs: list[tuple[str, int, int]] | None, same_rows: Callable[[], set[str]]) -> bytes | Spliced:
        """The CSV of `df` (in value stream blocks, `runs`), the blocks of the value streams
        `same_rows()` names read from the last build's file of `name`."""
        if runs is not None:
            self.row_runs[name] = runs
        old = self._old_csv(name) if runs is not None and self.kept else None
        header = csv_header(df.columns)
        if old is not None:
            blob, spans = old
            same = same_rows()
            # Per value stream block, in order: (first, end) byte of the old file, or new bytes.
            pieces: list[tuple[int, int] | bytes] = []
            out, pos = [], len(header)
            for vs, start, n in runs:
                span = spans.get(vs) if vs in same else None
                piece = span if span is not None else csv_bytes(df.slice(start, n), header=False)
                size = piece[1] - piece[0] if span is not None else len(piece)
                out.append((vs, pos, pos + size))
                pos += size
                if span is not None and pieces and isinstance(pieces[-1], tuple) and pieces[-1][1] == span[0]:
                    pieces[-1] = (pieces[-1][0], span[1])  # neighbours in the old file: one read
                else:
                    pieces.append(piece)
            data = _splice(blob, header, pieces)
            if data is not None:
                self.csv_spans[name] = out
                data.materialize(self.root / "blobs")  # written as a blob while the build goes on; published as a link of it
                return data
        data = csv_bytes(df)
        self.csv_spans[name] = None if runs is None else _csv_spans(data, len(header), runs)
        return data

    def _same_rows(self, name: str, df: pl.DataFrame, runs: list[tuple[str, int, int]]) -> set[str]:
        """The value streams whose rows of drill-down frame `name` are the snapshot's: the kept
        ones, and recomputed ones whose rows came out the same (the ballast; often every one for
        a dataset the change did not touch)."""
        same = set(self.kept)
        old = (((self.snapshot or {}).get("metrics") or {}).get("drill") or {}).get(name)
        if old is None or old.schema != df.schema:
            return same
        if f"drill-{name}" in self.same_frames and df is old:
            return {vs for vs, _, _ in runs}  # the merge found every recomputed stream's rows the snapshot's: the frame is its frame
        same |= self.checked  # the check compared their rows with the snapshot's already (see _same)
        # The snapshot's frame in value stream blocks, as the last build found them for its CSV.
        old_runs = ((self.snapshot or {}).get("csv", {}).get(name) or {}).get("rows")
        if not isinstance(old_runs, list) or sum(n for _, _, n in old_runs) != old.height:
            old_runs = _runs(old)
        if old_runs is not None:
            at = {vs: (start, n) for vs, start, n in old_runs}
            for vs, start, n in runs:
                if vs not in same and vs in at and at[vs][1] == n and identical(df.slice(start, n), old.slice(*at[vs])):
                    same.add(vs)
        return same

    def _page_blobs(self, pages: dict[str, dict], files: dict[str, bytes], digests: dict[str, str]) -> dict[str, bytes]:
        """Every file of the pages to keep, by digest (each blob once): the pages' pack."""
        by_digest: dict[str, bytes] = {}
        for entry in pages.values():
            for rel, digest in entry["files"].items():
                data = files.get(rel)
                if data is not None and (digests.get(rel) or hashlib.sha256(data).hexdigest()) == digest:
                    by_digest.setdefault(digest, data)
        return by_digest

    def _save_csv(self, files: dict[str, bytes], digests: dict[str, str]) -> dict[str, dict]:
        """Where each value stream's lines are in this build's drill-down CSVs, and the blob that holds each."""
        out = {}
        for name, spans in self.csv_spans.items():
            rel = f"data/{name}.csv"
            if spans is None or rel not in files or rel not in digests:
                continue
            digest = digests[rel]
            blob = self.root / "blobs" / digest[:2] / digest
            if not blob.exists():
                _atomic_write(blob, bytes(files[rel]))
            with contextlib.suppress(OSError):
                st = blob.stat()
                if st.st_size == len(files[rel]):
                    out[name] = {"digest": digest, "sig": _sig(st), "spans": spans, "rows": self.row_runs.get(name), "streams": self.csv_digests.get(name)}
        return out

    def _old_csv(self, name: str) -> tuple[Path, dict[str, tuple[int, int]]] | None:
        """The last build's file of a drill-down CSV (its blob) and where each value stream's lines are."""
        entry = (self.snapshot or {}).get("csv", {}).get(name)  # checked by _blob_intact when read
        if entry is None or self.root is None:
            return None
        return self.root / "blobs" / entry["digest"][:2] / entry["digest"], {vs: (a, b) for vs, a, b in entry["spans"]}

    def _blob_intact(self, entry: dict) -> bool:
        """A blob is written once under its digest and never into; its stat signature from the
        snapshot stands for the sha256 (hundreds of MB at scale)."""
        try:
            return _sig((self.root / "blobs" / entry["digest"][:2] / entry["digest"]).stat()) == entry["sig"]
        except (OSError, KeyError, TypeError):
            return False

    # -- pages --
    def begin_pages(self, config, model, results, version: str, version_title: str, known_versions: list[dict]) -> None:
        """Pages are reused only with the built-in templates (a project's own may show anything on a scorecard page)."""
        if self.context is None:
            return
        self._figures_seen(results.figures)
        if config.theme_dir is not None and (config.theme_dir / "templates").exists():
            return
        site = dataclasses.replace(model, scorecards=(), totals={})
        # The version list is in every page's context, though the built-in templates do not show it
        # (the version menu is filled in the browser): then a new version elsewhere keeps the pages.
        templates = Path(__file__).parent / "themes" / "default" / "templates"
        shown = any("known_versions" in t.read_text(encoding="utf-8") for t in templates.glob("*.html"))
        # A scorecard is made from its value stream's figure rows, the config and the context (the
        # first timestamp of each dataset included, which another value stream can move): those
        # stand for the scorecard in its page's key (its repr was a tenth of a rebuild at scale).
        starts = json.dumps({k: v.isoformat() for k, v in sorted(results.data_start.items())})
        self.page_context = _digest(self.context, version, version_title, json.dumps(known_versions if shown else None, sort_keys=True, default=str), repr(site), starts)

    def _page_key(self, card, narrative: list[dict]) -> str | None:
        if self.page_context is None or card.id not in self.digests:
            return None
        key = self.page_keys.get(card.id)
        if key is None:
            key = self.page_keys[card.id] = _digest(self.page_context, self.digests[card.id], self.figure_digests.get(card.id, ""), card.id, json.dumps(narrative, sort_keys=True))
        return key

    def lookup(self, card, narrative: list[dict]) -> dict[str, bytes] | None:
        """The files of this scorecard's page from the last build (the page and its chart specs), if its inputs are unchanged."""
        key = self._page_key(card, narrative)
        entry = (self.snapshot or {}).get("pages", {}).get(card.id)
        if key is None or self.root is None or entry is None or entry.get("key") != key:
            return None
        files = {}
        for rel, digest in entry["files"].items():
            data = self._pack_item("pages", digest)  # the pack's signature was checked
            if data is None:
                data = _read(self.root / "blobs" / digest[:2] / digest)
                if data is None or hashlib.sha256(data).hexdigest() != digest:
                    return None
            files[rel] = data
            self.known_files[rel] = (data, digest)
        self.reused_pages[card.id] = entry["files"]
        return files

    def known_digest(self, rel: str, data) -> str | None:
        """The sha256 of a file this build took unchanged from the last one (`data` is what it took)."""
        got = self.known_files.get(rel)
        return got[1] if got is not None and got[0] is data else None

    def _pack(self, name: str) -> tuple[memoryview, dict[str, tuple[int, int]]] | None:
        """A pack of the last build's snapshot (`pages`: its kept pages' files by digest;
        `fragments`: its value streams' rows of the pages that span them, by key) and where each
        item is in it: one read instead of thousands. None when missing or damaged."""
        with self._pack_lock:  # the data files and the pages are made in two threads
            if name not in self._packs:
                self._packs[name] = self._open_pack(name)
        return self._packs[name]

    def _open_pack(self, name: str) -> tuple[memoryview, dict[str, tuple[int, int]]] | None:
        info = (self.snapshot or {}).get("packs", {}).get(name)
        path = self.root / "streams" / self.context / f"{name}.pack" if info and self.root is not None and self.context else None
        with contextlib.suppress(OSError, KeyError, TypeError, ValueError):
            data = _mapped(path) if path is not None else None
            # Signed after mapping: a write before shows in the status-change time (and a pack
            # is never written into once made).
            if data is not None and _sig(path.stat()) == info["sig"] and len(data) == info["sig"][0]:
                return data, {k: (a, n) for k, a, n in info["spans"]}
        return None

    def _pack_source(self, name: str) -> tuple[Path, memoryview, dict[str, tuple[int, int]]] | None:
        """The last build's pack `name` as this build read it (file, bytes, spans), if it did."""
        pack = self._packs.get(name)
        if pack is None or self.root is None or self.context is None:
            return None
        return self.root / "streams" / self.context / f"{name}.pack", pack[0], pack[1]

    def _pack_item(self, name: str, key: str) -> bytes | None:
        """One item of a pack of the last build's snapshot, or None."""
        pack = self._pack(name)
        span = pack[1].get(key) if pack is not None else None
        return None if span is None else pack[0][span[0]:span[0] + span[1]].tobytes()

    # -- rows of the pages that span value streams --
    def fragment_key(self, card, narrative: list[dict], name: str, parts: list) -> str | None:
        """The key of one value stream's piece of a page that spans value streams: its scorecard
        page's key (which stands for the scorecard) and what else the piece is made from."""
        page = self._page_key(card, narrative)
        # repr, not JSON: the parts are text and numbers, and this runs for every row of every
        # metric page (ten thousand at scale).
        return None if page is None else f"{page} {name} {parts!r}"

    def fragment(self, key: str) -> bytes | None:
        """The rows (UTF-8) the last build kept under `key`; kept for the next build too."""
        data = self._pack_item("fragments", key)
        if data is not None:
            self.fragments[key] = data
        return data

    def _pack_text(self, name: str, key: str) -> str | None:
        data = self._pack_item(name, key)
        return None if data is None else data.decode("utf-8")

    # -- data/metrics.json --
    def figure_block(self, vs: str, make: Callable[[], str]) -> str:
        """One value stream's lines of the figure list of data/metrics.json (see `_figure_lines`):
        made from its rows of the figures frame alone, so kept from the last build while those are
        the same."""
        digest = self.figure_digests.get(vs)
        if digest is None:
            return make()
        text = self._pack_text("figures", digest)
        if text is None:
            text = make()
        self.figure_blocks[digest] = text
        return text

    def card_json(self, card: Any, make: Callable[[], str]) -> str:
        """A scorecard's entry of the scorecard list of data/metrics.json (see artifacts.data_files):
        made from the scorecard alone, so kept from the last build with this very scorecard (one
        that came from `scorecards` under a key)."""
        key = self._card_keys.get(id(card))
        if key is None:
            return make()
        text = self._pack_text("card-json", key)
        if text is None:
            text = make()
        self.card_jsons[key] = text
        return text

    def rendered(self, card, narrative: list[dict], path: str, added: list[str]) -> None:
        """A scorecard page rendered afresh, with the files its rendering added (saved once final)."""
        if self._page_key(card, narrative) is not None:
            self.fresh_pages[card.id] = (path, added)

    # -- storage --
    def _load(self, context: str) -> dict | None:
        if self.root is None:
            return None
        entry = self.root / "streams" / context
        raw = _read(entry / "index.json")
        if raw is None:
            return None
        try:
            index = json.loads(raw)
            # Drill-down CSV blobs are checked now: publishing links the published files, which
            # are the same inodes, and that changes their status-change time.
            out = {"pages": index.get("pages", {}), "packs": index.get("packs") or {}, "csv": {name: c for name, c in ((index.get("metrics") or {}).get("csv") or {}).items() if self._blob_intact(c)}}
            m = index.get("metrics")
            if m is not None:
                # The drill-down frames, most of the snapshot's bytes, are read by `metrics` (see _drill_frames).
                drill = {name.removeprefix("drill-"): (entry / f"{name}.arrow", sig) for name, sig in m["frames"].items() if name.startswith("drill-")}
                frames = _read_signed({name: (entry / f"{name}.arrow", sig) for name, sig in m["frames"].items() if not name.startswith("drill-")})
                out["metrics"] = {"digests": m["digests"], "datasets": m.get("datasets") or {}, "owner": m.get("owner") or {}, "figures": frames["figures"], "excl": frames["exclusions"], "wip": frames.get("daily_wip"), "skeleton": m["exclusions"],
                                  "drill_files": drill, "starts": None if m.get("starts") is None else {name: frames[f"starts-{name}"] for name in m["starts"]}}
            with contextlib.suppress(OSError):
                os.utime(entry)
            return out
        except Exception:  # noqa: BLE001 - a damaged snapshot is a miss, never a failed build
            return None

    def stage_loads(self) -> None:
        """Write the datasets loaded afresh and the row states, for the next build. In a thread of
        their own: the snapshot (`stage`), which publishing waits for, is written beside them."""
        if self.root is not None:
            self._stage_loads()
            self._stage_row_states()

    def stage(self) -> None:
        """Write this build's metric frames into a new snapshot folder; `save` completes it. Runs
        while the site is published (polars writes without holding the interpreter)."""
        self._staged = None
        if self.root is None or self.context is None or self.parts is None:
            return
        try:
            (self.root / "streams").mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=self.root / "streams", prefix=".tmp-"))
            self._staged = (tmp, None)
            sums = None
            excl = _exclusion_frame(self.parts.exclusions) if self.decomposable else None
            if excl is not None:
                frames = {"figures": self.parts.figures, "exclusions": excl, **{f"drill-{k}": v for k, v in self.parts.drilldown.items()}}
                if self.parts.daily_wip is not None:
                    frames["daily_wip"] = self.parts.daily_wip
                if self.starts is not None:
                    frames.update({f"starts-{name}": df for name, df in self.starts.items()})
                sums = {}
                for name, df in frames.items():
                    if not self._copy_frame(name, tmp / f"{name}.arrow"):
                        df.write_ipc(tmp / f"{name}.arrow", compression="lz4")
                    sums[name] = None  # signed in `save`, after the whole-build entry linked it (a link changes its ctime)
                    self._written[id(df)] = (df, tmp / f"{name}.arrow")
            self._staged = (tmp, sums)
        except Exception:  # noqa: BLE001 - a cache that cannot be written costs the next build time, nothing else
            self.discard()

    def _copy_frame(self, name: str, to: Path) -> bool:
        """Copy the snapshot's file of a frame that came out as the snapshot's (see `_merge`): the
        kernel copies it, where writing it again compresses it again. A copy, not a link: files
        are signed by their stat, and links in older entries would change it when those go."""
        if name not in self.same_frames or self.root is None or self.context is None:
            return False
        try:
            shutil.copyfile(self.root / "streams" / self.context / f"{name}.arrow", to)
            return True
        except OSError:
            return False

    def written_frame(self, df: pl.DataFrame) -> Path | None:
        """The file `stage` wrote this very frame to (Arrow IPC, lz4), for the whole-build entry to link."""
        got = self._written.get(id(df))
        return got[1] if got is not None and got[0] is df else None

    def discard(self) -> None:
        """Remove what `stage` wrote (a build that failed before `save`)."""
        self._written.clear()
        if self._staged is not None:
            shutil.rmtree(self._staged[0], ignore_errors=True)
            self._staged = None

    def prepare(self, files: dict[str, bytes], digests: dict[str, str]) -> None:
        """Write the parts of this build's snapshot that do not depend on the published files: the
        packs (run in a thread while the site is published)."""
        self._prepared, self._prepare_ran, self._fresh_blobs = None, True, []
        if self.root is None or self.context is None or self.parts is None:
            return
        try:
            pages: dict[str, dict] = {}
            for vs, rels in self.reused_pages.items():
                pages[vs] = {"key": self.page_keys[vs], "files": rels}
            for vs, (path, added) in self.fresh_pages.items():
                page = files.get(path)
                if page is None or b"\x00" in page:
                    continue
                rels = [path, *sorted({m.decode() for m in SPEC_LINK.findall(page)} | set(added))]
                if any(r not in files or not (r == path or r.startswith("charts/")) for r in rels):
                    continue
                entry = {}
                for rel in rels:
                    entry[rel] = digests.get(rel) or hashlib.sha256(files[rel]).hexdigest()
                    self._fresh_blobs.append((rel, entry[rel]))
                pages[vs] = {"key": self.page_keys[vs], "files": entry}
            if self._staged is None:
                self.stage()
            if self._staged is None:
                return
            tmp, _ = self._staged
            packs = {"pages": self._page_blobs(pages, files, digests), "fragments": self.fragments,
                     "figures": {k: v.encode("utf-8") for k, v in self.figure_blocks.items()},
                     "card-json": {k: v.encode("utf-8") for k, v in self.card_jsons.items()}, **self.pickled_packs}
            self._prepared = {"pages": pages, "metrics": None, "packs": {name: _write_pack(tmp / f"{name}.pack", items, self._pack_source(name)) for name, items in packs.items()}}
        except (OSError, TypeError, ValueError, pl.exceptions.PolarsError):
            self.discard()

    def save(self, files: dict[str, bytes], digests: dict[str, str]) -> None:
        """Write this build's snapshot (after publishing, once the replaced site is removed: the
        drill-down files it signs are published files; any failure only costs the next build time)."""
        if not self._prepare_ran:
            self.prepare(files, digests)
        index, self._prepared = self._prepared, None
        if index is None or self._staged is None:
            self.discard()
            return
        try:
            # Blobs of the fresh pages' files: publishing adopted most (hard links of the published
            # files); what it did not is written here.
            for rel, digest in self._fresh_blobs:
                blob = self.root / "blobs" / digest[:2] / digest
                if not blob.exists():
                    _atomic_write(blob, file_bytes(files[rel]))
            tmp, sums = self._staged
            if sums is not None:
                # A frame file is written once and never into: its stat signature stands for a checksum.
                sums = {name: _sig((tmp / f"{name}.arrow").stat()) for name in sums}
                skeleton = {metric: list(reasons) for metric, reasons in self.parts.exclusions.items()}
                index["metrics"] = {"digests": self.digests, "datasets": self.stream_datasets, "owner": self.parts.owner, "frames": sums, "exclusions": skeleton, "csv": self._save_csv(files, digests),
                                    "starts": sorted(self.starts) if self.starts is not None else None}
            (tmp / "index.json").write_text(json.dumps(index, sort_keys=True), encoding="utf-8")
            (tmp / BLOB_LIST).write_text("\n".join(sorted(_index_blobs(index))), encoding="ascii")
            entry = self.root / "streams" / self.context
            if entry.exists():
                shutil.rmtree(entry, ignore_errors=True)
            os.replace(tmp, entry)
            self._staged = None
            prune_snapshots(self.root)
        except (OSError, TypeError, ValueError, pl.exceptions.PolarsError):
            return
        finally:
            self.discard()  # what a failed save staged is not left behind


def _read_signed(files: dict[str, tuple[Path, list[int]]]) -> dict[str, pl.DataFrame]:
    """Arrow files of a snapshot by name, each checked against its stat signature after reading
    (a write meanwhile shows too); ValueError when one differs."""
    frames = {}
    for name, (path, sig) in files.items():
        frames[name] = pl.read_ipc(path)
        if _sig(path.stat()) != sig:
            raise ValueError(f"damaged snapshot frame {name}")
    return frames


# A row state's column of value stream numbers holds a null for a row of none; in the array file that
# is this number (there are never as many value streams).
_NO_STREAM = 2**32 - 1


def _save_column(path: Path, series: pl.Series) -> None:
    """An unsigned integer column of a row state as a NumPy array file."""
    if series.dtype not in (pl.UInt32, pl.UInt64):
        raise TypeError(f"a row state column of {series.dtype}")
    if series.null_count():
        series = series.fill_null(_NO_STREAM)
    np.save(path, series.to_numpy(), allow_pickle=False)


def _mapped_column(path: Path, sig: list[int], rows: int, nulls: bool) -> pl.Series:
    """A column `_save_column` wrote, mapped into memory rather than read: the file is never
    written into (a new state replaces the folder), and polars uses the mapped pages as they are.
    At scale the row states are 160 MB, and reading them into fresh memory took a tenth of a
    second of the metric stage, most of it the kernel handing out the pages. Copy-on-write:
    nothing the build does can reach the file. ValueError when the file is not the one signed."""
    data = np.load(path, mmap_mode="c", allow_pickle=False)
    if _sig(path.stat()) != sig or data.ndim != 1 or len(data) != rows or data.dtype not in (np.uint32, np.uint64):
        raise ValueError(f"damaged row state {path.name}")
    series = pl.Series(path.stem, data)
    if nulls:
        series = series.to_frame().select(pl.when(pl.col(path.stem) != _NO_STREAM).then(pl.col(path.stem))).to_series()
    return series


def _mapped(path: Path) -> memoryview:
    """A file's bytes, mapped rather than read into memory (tens of megabytes at scale, of which a
    build copies out only the items it takes)."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return memoryview(b"")
        return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))


def _write_pack(path: Path, items: dict[str, bytes], old: tuple[Path, memoryview, dict[str, tuple[int, int]]] | None = None) -> dict:
    """Items one after the other in one file, with its stat signature (it is never written into
    again, so that stands for a checksum, as for blobs) and where each item is. `old`: the last
    build's pack of the same name (its file, its bytes as read, where each item is): the items it
    already holds are copied from it by the kernel, runs of them at a time, as `publish.Spliced`
    does for drill-down CSVs (a rebuild keeps almost every item)."""
    spans, parts, at = [], [], 0
    for key, data in sorted(items.items()):
        span = old[2].get(key) if old is not None else None
        if span is not None and span[1] == len(data) and old[1][span[0]:span[0] + span[1]].tobytes() == data:
            if parts and isinstance(parts[-1], tuple) and parts[-1][1] == span[0]:
                parts[-1] = (parts[-1][0], span[0] + span[1])
            else:
                parts.append((span[0], span[0] + span[1]))
        elif parts and isinstance(parts[-1], list):
            parts[-1].append(data)
        else:
            parts.append([data])
        spans.append([key, at, len(data)])
        at += len(data)
    joined = [p if isinstance(p, tuple) else b"".join(p) for p in parts]
    if old is not None and any(isinstance(p, tuple) for p in joined):
        write_bytes(path, Spliced(old[0], joined))
    else:
        with open(path, "wb") as f:
            for p in joined:
                f.write(p)
    return {"sig": _sig(path.stat()), "spans": spans}


def _empty_like(old: dict) -> StreamParts:
    return StreamParts(old["figures"].clear(), {k: v.clear() for k, v in old["drill"].items()},
                       {m: {r: Count(0, {}) for r in reasons} for m, reasons in old["skeleton"].items()},
                       None if old["wip"] is None else old["wip"].clear(), dict(old["owner"]))


def prune_snapshots(root: Path) -> None:
    """Keep the newest snapshots (as many as whole-build entries); blobs are pruned with the builds'."""
    base = root / "streams"
    snaps = sorted((p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in snaps[KEEP_BUILDS:]:
        shutil.rmtree(old, ignore_errors=True)


def _index_blobs(index: dict) -> set[str]:
    used: set[str] = set()
    for entry in index.get("pages", {}).values():
        used.update(entry["files"].values())
    used.update(entry["digest"] for entry in ((index.get("metrics") or {}).get("csv") or {}).values())
    return used


def snapshot_blobs(root: Path) -> set[str]:
    """Blobs the kept snapshots' pages use (so pruning the whole-build entries keeps them): from each
    snapshot's list of them (its index when there is none: megabytes of JSON at scale)."""
    used: set[str] = set()
    base = root / "streams"
    if not base.is_dir():
        return used
    for snap in base.iterdir():
        listed = _read(snap / BLOB_LIST)
        if listed is not None:
            used.update(listed.decode("ascii", "replace").split())
            continue
        raw = _read(snap / "index.json")
        if raw:
            with contextlib.suppress(ValueError, KeyError, AttributeError, TypeError):
                used.update(_index_blobs(json.loads(raw)))
    return used
