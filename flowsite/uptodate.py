"""The start of a build: its config, output folder and cache key, and whether the site is already
what this build would publish.

A build whose key is the key of the last publish into its output folder, over a site whose every
entry is still as that publish left it, has nothing to do (see `_build.build`). This module makes
that decision from the config, the cache and the site alone, without importing polars, numpy or
Jinja, so that `flowsite build` with nothing to do answers before loading them: Python's start and
those imports were most of such a build's time. `_build.build` starts from the same `Start`.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import plugins
from .background import in_thread
from .cache import BuildStore, build_key, cache_dir, code_digest, flush_digests, new_build
from .config import Config, load_config
from .errors import Problem
from .publish import check_output_dir, lock, tree_stat
from .versioning import validate_name


@dataclass
class Start:
    config: Config
    out_dir: Path
    store: BuildStore | None
    key: str | None
    record: dict | None  # what the last publish into out_dir left there (BuildStore.site_record)
    site_now: Callable[[], dict | None]  # the site's stat signatures, when the record was compared with them (waits for the walk)
    current: bool  # the last publish had this key and the site is as it left it
    began: float = 0.0  # time.perf_counter() when the config was asked for: the build's config stage starts there


@dataclass
class UpToDate:
    """What `flowsite build` reports of a build that had nothing to do."""
    out_dir: Path
    version: str
    aliases: list[str]
    scorecards: int
    files: int
    warnings: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def config_memo() -> Path | None:
    """Where parsed configs are kept (by flowsite's code: a new parser must not read old results)."""
    root = cache_dir()
    if root is None:
        return None
    folder = root / "configs" / code_digest()[:32]
    if not folder.is_dir() and (root / "configs").is_dir():
        for other in (root / "configs").iterdir():  # an earlier flowsite's
            shutil.rmtree(other, ignore_errors=True)
    return folder


def data_dirs(config: Config) -> list[Path]:
    dirs = set()
    for spec in config.sources.values():
        if spec.path:
            p = config.resolve(spec.path.split("*")[0]) if "*" in spec.path else config.resolve(spec.path)
            d = p if p.is_dir() else p.parent
            if d != config.project_dir:
                dirs.add(d)
    return sorted(dirs)


def start(project: str | Path, *, out: str | Path | None, version: str | None, title: str | None, aliases: list[str] | tuple[str, ...] | None,
          strict: bool, history_url: str | None, history_archive: str | Path | None, cache: bool,
          on_config: Callable[[Config], Config] = lambda config: config) -> Start:
    """Read the config (through `on_config`: the plugins' hook), check the names and the output
    folder, and compare the site with the record of the last publish into it."""
    began = time.perf_counter()
    config = on_config(load_config(project, strict=strict, memo=config_memo() if cache else None))
    if version is not None:
        validate_name(version)
    for a in aliases or ():
        validate_name(a, "alias")
    out_dir = Path(out).resolve() if out else config.output_dir
    check_output_dir(out_dir, config.project_dir, data_dirs(config))
    # Incremental build: the same inputs (data, config, theme, pages, published versions, flowsite)
    # as an earlier build reuse its version folder; only publishing runs again.
    store = BuildStore() if cache else None
    args = {"version": version, "title": title, "aliases": None if aliases is None else list(aliases), "strict": strict, "history_url": history_url,
            "history_archive": None if history_archive is None else str(history_archive), "out": str(out_dir)}
    key = build_key(config, out_dir, args) if store is not None else None
    # What the last publish into out_dir left there: when this build would publish the same thing
    # (same key) and every file is still as it was left, there is nothing to do.
    record = store.site_record(out_dir) if store is not None else None
    site_now, current = None, False
    if record is not None:
        if key is not None and record.get("key") == key and history_archive is None and isinstance(record.get("result"), bytes) \
                and None not in record["sigs"].values():
            with lock(out_dir):  # never look at a site another build is swapping
                site_now = tree_stat(out_dir)
            current = site_now == record["sigs"]
        else:
            # Needed only to publish: walked (28,000 entries at scale) while the data loads.
            return Start(config, out_dir, store, key, record, in_thread(tree_stat, out_dir), current, began)
    return Start(config, out_dir, store, key, record, lambda: site_now, current, began)


def plugins_installed() -> bool:
    """Whether any plugin package is installed: its `on_config` and `on_post_build` hooks run in
    every build, so only `_build.build` may answer then."""
    return plugins.outside_plugins(plugins.BUILTIN_PLUGINS)


def quick_start(project: str | Path, *, out: str | Path | None = None, version: str | None = None, title: str | None = None,
                aliases: list[str] | tuple[str, ...] | None = None, strict: bool = False, history_url: str | None = None,
                history_archive: str | Path | None = None, progress: Callable[[str, str], None] = lambda stage, message: None) -> tuple[UpToDate | None, Start | None]:
    """(the report of a build with nothing to do, None) when the site is already what this build
    would publish; else (None, the start to pass to `_build.build`), or (None, None) when plugins
    are installed. The built-in plugins implement neither `on_config` nor `on_post_build`."""
    if plugins_installed():
        return None, None
    t0 = time.perf_counter()
    new_build()  # the code, built-in theme and input files as they are for this build
    progress("config", "reading flowsite.yml")
    s = start(project, out=out, version=version, title=title, aliases=aliases, strict=strict, history_url=history_url, history_archive=history_archive, cache=True)
    summary = s.record.get("summary") if s.current and s.record is not None else None
    if not isinstance(summary, dict) or s.store is None or not s.store.has_entry(s.key):
        return None, s
    config_time = time.perf_counter() - t0
    progress("load", "inputs unchanged: reusing the previous build")
    progress("write", f"site is up to date: {s.out_dir}")
    flush_digests()
    timings = {"config": config_time, **dict.fromkeys(("load", "metrics", "render", "write"), 0.0), "total": time.perf_counter() - t0}
    return UpToDate(out_dir=s.out_dir, version=summary["version"], aliases=list(summary["aliases"]), scorecards=summary["scorecards"],
                    files=summary["files"], warnings=list(s.config.warnings) + list(summary["warnings"]), timings=timings), None
