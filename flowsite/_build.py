"""The build: config -> sources -> metrics -> scorecards -> render -> one atomic publish.

`build()` is the Python API behind `flowsite build`; it computes everything first and only then
writes, into a staging copy of the output folder that replaces it when complete.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import os
import pickle
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import plugins, vega_bundle
from .background import in_thread
from .incremental import StreamCache
from .cache import BuildStore, flush_digests, new_build, out_state
from .artifacts import data_files, metrics_document
from .badges import version_badges
from .compare import Comparison, compare
from .config import Config, load_config
from ._schema import CONTROL
from .errors import BuildError, Problem, SourceError
from .metrics import MetricResults, compute_metrics
from .pages import load_pages
from .history import History, manifest_bytes, write_archive
from .publish import Prelink, Spliced, file_bytes, fs_now, lock_path, read_state, remove_tree, safe_relpath, sync_links, transaction, tree_stat, write_bytes
from .render import Theme, load_theme, render_root, render_version
from .scorecard import SiteModel, build_scorecards
from .uptodate import Start, data_dirs, start
from .sources import Datasets, load_sources
from .versioning import Versions, sort_key, validate_name

Progress = Callable[[str, str], None]


@dataclass
class CheckResult:
    config: Config
    datasets: Datasets
    results: MetricResults
    model: SiteModel
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class BuildResult:
    out_dir: Path
    version: str
    version_title: str
    aliases: list[str]
    default: str
    files: list[str]
    model: SiteModel
    results: MetricResults
    comparison: Comparison
    warnings: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _import_numpy_ma() -> None:
    """polars imports numpy.ma on its first Series made from a numpy array (the metrics make
    several): 7-10 ms of the main thread, imported instead while it waits for the data to load."""
    import numpy.ma  # noqa: F401


def _noop(stage: str, message: str) -> None:
    pass


def check(project: str | Path = ".", *, strict: bool = False, progress: Progress = _noop) -> CheckResult:
    """Validate config and data and compute every figure; writes nothing."""
    progress("config", "reading flowsite.yml")
    config = plugins.chain("on_config", load_config(project, strict=strict))
    progress("load", f"reading {len(config.sources)} dataset(s)")
    plugins.install_presets(config)
    datasets = plugins.chain("on_sources", load_sources(config), config=config)
    warnings = list(config.warnings) + list(datasets.warnings)
    if strict and datasets.warnings:
        raise SourceError(f"aborted: {len(datasets.warnings)} data warning(s) are fatal with --strict", problems=datasets.warnings)
    progress("metrics", "computing metrics")
    results = compute_metrics(config, datasets.frames)
    model = plugins.chain("on_scorecard", build_scorecards(config, results), config=config)
    return CheckResult(config, datasets, results, model, warnings)


def _default_alias_target(out: Path, versions: Versions) -> str | None:
    index = out / "index.html"
    if index.is_file():
        m = re.search(r'<meta name="flowsite-default" content="([^"]+)"', index.read_text(encoding="utf-8", errors="replace"))
        if m and m.group(1) in versions.all_names():
            return m.group(1)
    return None


def _unchanged(vdir: Path, files: dict[str, bytes], digests: dict[str, str], trusted: dict[str, tuple[int, int, str]]) -> set[str]:
    """Remove from the staged version folder every file the new build does not write identically;
    return the ones left in place.

    `trusted`: files (by path in the version folder) that the site record says are still exactly
    what an earlier publish wrote, as (inode, mtime_ns, sha256): those are compared by digest
    without being read; every other file is compared byte for byte."""
    if vdir.is_symlink() or not vdir.is_dir():
        remove_tree(vdir)
        return set()
    kept: set[str] = set()

    def walk(path: str, prefix: str) -> bool:
        with os.scandir(path) as it:
            entries = list(it)
        left = 0
        for e in entries:
            rel = prefix + e.name
            if e.is_dir(follow_symlinks=False):
                if walk(e.path, rel + "/"):
                    os.rmdir(e.path)
                else:
                    left += 1
                continue
            data = files.get(rel)
            keep = False
            if data is not None and not e.is_symlink():
                st = e.stat(follow_symlinks=False)
                if st.st_size == len(data):
                    t = trusted.get(rel)
                    if t is not None and t[0] == st.st_ino and t[1] == st.st_mtime_ns and rel in digests:
                        keep = t[2] == digests[rel]
                    else:
                        with open(e.path, "rb") as f:
                            keep = f.read() == file_bytes(data)
            if keep:
                kept.add(rel)
                left += 1
            else:
                os.unlink(e.path)
        return left == 0

    walk(os.fspath(vdir), "")
    return kept


def _trusted(record: dict | None, now: dict[str, tuple] | None, version: str) -> dict[str, tuple[int, int, str]]:
    """Files of OUT/<version> whose stat signature is still the one the site record holds, with
    the sha256 the record knows for them."""
    if not record or not now:
        return {}
    sigs, digests, prefix = record["sigs"], record["digests"], version + "/"
    out = {}
    for rel, digest in digests.items():
        if rel.startswith(prefix):
            sig = now.get(rel)
            if sig is not None and len(sig) == 5 and sigs.get(rel) == sig:
                out[rel[len(prefix):]] = (sig[3], sig[1], digest)
    return out


def _site_sigs(out_dir: Path) -> dict[str, tuple]:
    """Stat signatures of the published site as of now, with the entries changed since the file
    system's clock last ticked left out (None): those could still change unseen within the tick."""
    lp = lock_path(out_dir)
    t = fs_now(lp)
    for _ in range(200):  # at most ~0.2 s; a clock tick is a few ms
        t0 = fs_now(lp)
        if t0 > t:
            break
        time.sleep(0.001)
    sigs = tree_stat(out_dir)
    return {rel: (None if len(sig) == 5 and max(sig[1], sig[2]) >= t0 else sig) for rel, sig in sigs.items()}


def _up_to_date(config: Config, out_dir: Path, published: dict, got: tuple, timings: dict[str, float], t0: float, progress: Progress) -> BuildResult:
    """The result of a build whose inputs and published site are exactly those of the last publish."""
    names, state = got
    timings["config"] = time.perf_counter() - t0
    progress("load", "inputs unchanged: reusing the previous build")
    progress("write", f"site is up to date: {out_dir}")
    for stage in ("load", "metrics", "render", "write"):
        timings[stage] = 0.0
    timings["total"] = time.perf_counter() - t0
    model, datasets = state["model"], state["datasets"]
    results = dataclasses.replace(state["results"], drilldown=state["frames"])
    warnings = list(config.warnings) + list(datasets.warnings)
    result = BuildResult(out_dir=out_dir, version=published["version"], version_title=published["version_title"], aliases=list(published["aliases"]),
                         default=published["default"], files=names, model=model, results=results, comparison=published["comparison"],
                         warnings=warnings, timings=timings)
    flush_digests()
    plugins.collect("on_post_build", config=config, result=result)
    return result


def _abandon(prelink: Prelink | None, saver: threading.Thread | None, keeper: threading.Thread | None, streams: StreamCache | None, store: BuildStore | None) -> None:
    """A build that fails after its render started leaves nothing behind: no linked copy, no staged cache entries."""
    if prelink is not None:
        prelink.discard()
    if keeper is not None:
        keeper.join()  # its entries are complete ones (each is moved into place whole)
    if saver is not None:
        saver.join()
        if streams is not None:
            streams.discard()
        if store is not None:
            store.discard()


def _render_files(config: Config, model: SiteModel, results: MetricResults, version: str, version_title: str, versions: Versions,
                  comparison: Comparison, current_doc: dict, streams: StreamCache | None, progress: Progress) -> tuple[dict[str, bytes], Theme, dict[str, str]]:
    """Every file of the version folder, with its sha256 (and the theme it was rendered with)."""
    progress("render", f"rendering {len(model.scorecards)} scorecards")
    pages = load_pages(config.pages_dir, allow_html=config.markdown_html, shown_root=config.project_dir)
    known = [v.to_json() for v in versions.sorted().items]
    if streams is not None:
        streams.begin_pages(config, model, results, version, version_title, known)
    # A drill-down CSV spliced from the last build's is written out in a thread (see
    # publish.Spliced.materialize) while the pages render.
    def make_data() -> dict[str, bytes]:
        return data_files(model, results, version, version_title, current_doc, drill_csv=streams.drill_csv if streams is not None else None,
                          figure_block=streams.figure_block if streams is not None else None, card_json=streams.card_json if streams is not None else None,
                          figures_csv=streams.figures_csv if streams is not None else None)

    if streams is not None and streams.kept:
        # A rebuild: its data files are mostly the last build's, and the changed value streams'
        # CSV lines are written by polars without the interpreter, so the data files are made in
        # a thread while the pages render in this one (at L that was a third of a second of waiting).
        data_made = in_thread(make_data)
        try:
            files, theme = render_version(config, model, results, pages, version, version_title, known, comparison, reuse=streams)
        except BaseException:
            with contextlib.suppress(BaseException):
                data_made()  # not left running behind the error
            raise
        data_out = data_made()  # waits; raises what making them raised
    else:
        data_out = make_data()
        files, theme = render_version(config, model, results, pages, version, version_title, known, comparison, reuse=streams)
    if streams is not None and streams.reused_pages:
        progress("render", f"reused {len(streams.reused_pages)} unchanged scorecard page(s)")
    files.update(data_out)
    files.update(version_badges(model, reuse=streams.card_files if streams is not None else None))
    known = streams.known_digest if streams is not None else lambda rel, data: None
    digests = {rel: data.sha256() if isinstance(data, Spliced) else known(rel, data) or hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    files["manifest.json"] = manifest_bytes(files, version, digests)  # lets a later CI run restore this version from the published site
    digests["manifest.json"] = hashlib.sha256(files["manifest.json"]).hexdigest()
    return files, theme, digests


def _without_collections(fn: Callable[..., BuildResult]) -> Callable[..., BuildResult]:
    """Python's cycle collector runs after every 700 net allocations of container objects; a build
    allocates millions (scorecards, rows, index dicts) over a heap of millions more, nearly all of
    them alive to the end, and spent a tenth of a rebuild at scale collecting (one pass over the
    young objects took 70 ms at L even when collecting a hundred times less often). Builds make
    few cycles (peak memory is the same without collecting): while one runs, none is collected."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> BuildResult:
        was = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was:
                gc.enable()
    return wrapper


# The interpreter hands over between threads at most this often while a build runs (Python's default
# is every 5 ms).
SWITCH_SECONDS = 0.0005


def _quick_handover(fn: Callable[..., BuildResult]) -> Callable[..., BuildResult]:
    """A build's main thread makes hundreds of short polars calls that let go of the interpreter,
    while threads beside it run Python (the data files, the caches). Coming back from each call it
    waited for the switch interval before the other thread was asked to hand the interpreter back:
    up to 5 ms a call. While a build runs the interval is half a millisecond (SWITCH_SECONDS), and
    as it was after: a tenth off a one-value-stream rebuild at M."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> BuildResult:
        was = sys.getswitchinterval()
        sys.setswitchinterval(min(was, SWITCH_SECONDS))
        try:
            return fn(*args, **kwargs)
        finally:
            sys.setswitchinterval(was)
    return wrapper


@_without_collections
@_quick_handover
def build(project: str | Path = ".", *, out: str | Path | None = None, version: str | None = None, title: str | None = None,
          aliases: list[str] | tuple[str, ...] | None = None, strict: bool = False, progress: Progress = _noop,
          history_url: str | None = None, history_archive: str | Path | None = None, cache: bool = True, begun: Start | None = None) -> BuildResult:
    """Build PROJECT's site into its output folder as one version. `begun`: the start
    `uptodate.quick_start` made for these same arguments (it found the site out of date)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter() if begun is None else begun.began
    if begun is None:
        new_build()  # the code, built-in theme and input files as they are for this build
        progress("config", "reading flowsite.yml")
        begun = start(project, out=out, version=version, title=title, aliases=aliases, strict=strict, history_url=history_url,
                      history_archive=history_archive, cache=cache, on_config=lambda c: plugins.chain("on_config", c))
    config, out_dir, store, key, record = begun.config, begun.out_dir, begun.store, begun.key, begun.record
    if begun.current and store is not None and key is not None and record is not None:
        got = store.load_state(key)
        try:
            published = pickle.loads(record["result"])
        except Exception:  # noqa: BLE001 - a damaged record is no record: the build runs
            got = None
        if got is not None:
            return _up_to_date(config, out_dir, published, got, timings, t0, progress)
    site_before = out_state(out_dir) if key is not None else ""
    hit = store.load(key, site_before) if key is not None else None
    if hit is None:
        vega_bundle.prefetch()  # made in the background while data loads (cached after the first build)
    # Otherwise, per value stream: only the value streams whose data changed are computed and rendered again.
    streams = StreamCache.open(config, out_dir) if cache and hit is None else None
    timings["config"] = time.perf_counter() - t0

    t = time.perf_counter()
    if hit is not None:
        progress("load", "inputs unchanged: reusing the previous build")
        cached_files, state = hit
        digests = dict(state.pop("digests", {}))
        datasets, model = state["datasets"], state["model"]
        results = dataclasses.replace(state["results"], drilldown=state["frames"])
    else:
        progress("load", f"reading {len(config.sources)} dataset(s)")
        in_thread(_import_numpy_ma)
        plugins.install_presets(config)
        datasets = plugins.chain("on_sources", load_sources(config, reuse=streams), config=config)
        if strict and datasets.warnings:
            raise SourceError(f"aborted: {len(datasets.warnings)} data warning(s) are fatal with --strict", problems=datasets.warnings)
    timings["load"] = time.perf_counter() - t

    t = time.perf_counter()
    if hit is None:
        progress("metrics", "computing metrics")
        results = compute_metrics(config, datasets.frames, streams=streams)
        if streams is not None:
            progress("metrics", streams.note)
            streams.begin_drill_csvs(results.drilldown)
        model = plugins.chain("on_scorecard", build_scorecards(config, results, reuse=streams.scorecards(results) if streams is not None else None), config=config)
        # The loaded data is not needed past the metrics; at 10M rows it is most of the memory.
        datasets = dataclasses.replace(datasets, frames={})
    timings["metrics"] = time.perf_counter() - t

    version = version or results.periods[-1].label
    validate_name(version)
    version_title = title or version
    if CONTROL.search(version_title):
        raise BuildError(problems=[Problem(f"expected a version title without control characters, got {version_title!r}", key="--title")])
    seen = read_state(out_dir, "versions.json")  # a build that publishes meanwhile makes ours fail, not merge
    versions = Versions.load(out_dir / "versions.json")
    # Earlier versions from the published site or a history archive (CI runs that start empty).
    history = History.restore(out_dir, url=history_url, archive=history_archive)
    history.memo = store.root / "documents" if store is not None and store.root is not None else None
    for note in history.notes:
        progress("history", note)
    versions = history.merge(versions)
    if aliases is None:
        newest = versions.newest()
        aliases = ["latest"] if newest is None or sort_key(version) >= sort_key(newest.version) else []
    if version in {a for v in versions.items for a in v.aliases}:
        raise BuildError(problems=[Problem(f"{version!r} is already an alias of another version", hint="choose another --version or delete the alias")])

    # Previous version (the newest one older than this) for the compare page.
    older = [v for v in versions.items if v.version != version and sort_key(v.version) < sort_key(version)]
    prev_doc = None
    if older:
        prev = max(older, key=lambda v: sort_key(v.version))
        prev_doc = history.document(prev.version)
    current_doc = metrics_document(model, results, version, version_title, figures=False)  # data_files writes the figures
    comparison = compare(prev_doc, current_doc, history.earlier(versions, version))
    comparison.sources = history.documents_digest()

    # The caches' frames and state are written in a thread while the site is rendered and published
    # (polars and hashlib write without holding the interpreter).
    cache_state = None
    if key is not None and hit is None:
        cache_state = {"datasets": dataclasses.replace(datasets, frames={}), "model": model, "results": dataclasses.replace(results, drilldown={}), "theme": load_theme(config)}
    saver = None
    if streams is not None or cache_state is not None:
        def stage() -> None:
            if streams is not None:
                streams.stage()
            if cache_state is not None:
                store.stage(cache_state, results.drilldown, written=streams.written_frame if streams is not None else None,
                            pickled=streams.pickled if streams is not None else None)

        saver = threading.Thread(target=stage, name="flowsite-cache", daemon=True)
        saver.start()
    keeper = None
    if streams is not None:
        # The next build's: loaded datasets and row states, beside the snapshot this one publishes.
        keeper = threading.Thread(target=streams.stage_loads, name="flowsite-cache-loads", daemon=True)
        keeper.start()

    t = time.perf_counter()
    # The linked copy of the published site that publishing starts from is made meanwhile.
    prelink = Prelink(out_dir) if hit is None and out_dir.is_dir() and not out_dir.is_symlink() else None
    try:
        if hit is not None:
            files, theme = cached_files, state["theme"]
        else:
            files, theme, digests = _render_files(config, model, results, version, version_title, versions, comparison, current_doc, streams, progress)
            if streams is not None and saver is not None:
                # The snapshot's packs are written while the site is published (mostly copied from
                # the last build's by the kernel), once its frames are.
                staged = saver

                def stage_then_prepare() -> None:
                    staged.join()
                    streams.prepare(files, digests)

                saver = threading.Thread(target=stage_then_prepare, name="flowsite-cache-packs", daemon=True)
                saver.start()
        timings["render"] = time.perf_counter() - t

        t = time.perf_counter()
        progress("write", f"writing {len(files)} files to {out_dir}")
        for rel in files:
            safe_relpath(rel)  # names made from data must never leave the version folder
        published: dict = {}

        def record_site() -> None:
            # After the replaced site is gone: the drill-down blobs the snapshot signs are published files.
            if streams is not None:
                streams.save(files, digests)
            if store is not None:
                # The result pickled apart: its comparison's classes import the metric modules, and
                # `uptodate.quick_start` reads the record with no more than the summary.
                summary = {"version": published["version"], "aliases": published["aliases"], "scorecards": len(model.scorecards), "files": len(files),
                           "warnings": list(datasets.warnings)}
                store.save_site_record(out_dir, {"key": key, "sigs": _site_sigs(out_dir), "digests": {f"{version}/{rel}": d for rel, d in digests.items()},
                                                 "result": pickle.dumps(published, protocol=pickle.HIGHEST_PROTOCOL), "summary": summary})

        def finish() -> None:  # runs while the replaced site is removed
            if saver is not None:
                saver.join()
            history.close()
            if history_archive:
                write_archive(out_dir, history_archive)
            if cache_state is not None:
                store.save(key, files, cache_state, results.drilldown, [site_before, out_state(out_dir)], digests, previous=record.get("key") if record else None)

        with transaction(out_dir, expect=seen, after=record_site, meanwhile=finish, prelink=prelink, keep_base=store is not None) as staging:
            vdir = staging / version
            # A rebuild keeps the files whose bytes did not change (hard links shared with the published
            # site, never written into) and writes only the others.
            kept = _unchanged(vdir, files, digests, _trusted(record, begun.site_now(), version))
            history.apply(staging, versions, skip=version)
            for rel, data in sorted(files.items()):
                if rel not in kept:
                    write_bytes(vdir / rel, data)
                    if store is not None:
                        store.adopt(vdir / rel, digests[rel])
            versions.add(version, version_title, list(aliases), update_aliases=True)
            for a in aliases:
                sync_links(vdir, staging / a)
            # Aliases that moved away from a folder leave no stale copy behind.
            default = _default_alias_target(out_dir, versions) or history.default(versions) or ("latest" if "latest" in versions.all_names() else versions.newest().version)
            sitemap = [f"{v.version}/{rel}".removesuffix("index.html") for v in versions.sorted().items for rel in ([p for p in sorted(files) if p.endswith(".html")] if v.version == version else ["index.html"])]
            root_files = render_root(config, theme, default, versions.dumps(), sitemap)
            for rel, data in root_files.items():
                write_bytes(staging / rel, data)
            published.update(version=version, version_title=version_title, aliases=list(aliases), default=default, comparison=comparison)
    except BaseException:
        _abandon(prelink, saver, keeper, streams, store)
        raise
    if prelink is not None:
        prelink.discard()  # left unused when OUT went away meanwhile; a no-op once taken
    if keeper is not None:
        keeper.join()
    flush_digests()
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    warnings = list(config.warnings) + list(datasets.warnings)
    result = BuildResult(out_dir=out_dir, version=version, version_title=version_title, aliases=list(aliases), default=default, files=sorted(files),
                         model=model, results=results, comparison=comparison, warnings=warnings, timings=timings)
    plugins.collect("on_post_build", config=config, result=result)
    return result
