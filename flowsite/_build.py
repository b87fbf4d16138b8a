"""The build: config -> sources -> metrics -> scorecards -> render -> one atomic publish.

`build()` is the Python API behind `flowsite build`; it computes everything first and only then
writes, into a staging copy of the output folder that replaces it when complete.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import __version__
from .artifacts import data_files, metrics_document
from .compare import Comparison, compare
from .config import Config, load_config
from .errors import BuildError, Problem, SourceError
from .metrics import MetricResults, compute_metrics
from .pages import load_pages
from .publish import check_output_dir, link_tree, remove_tree, transaction, write_bytes
from .render import render_root, render_version
from .scorecard import SiteModel, build_scorecards
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


def _noop(stage: str, message: str) -> None:
    pass


def check(project: str | Path = ".", *, strict: bool = False, progress: Progress = _noop) -> CheckResult:
    """Validate config and data and compute every figure; writes nothing."""
    progress("config", "reading flowsite.yml")
    config = load_config(project, strict=strict)
    progress("load", f"reading {len(config.sources)} dataset(s)")
    datasets = load_sources(config)
    warnings = list(config.warnings) + list(datasets.warnings)
    if strict and datasets.warnings:
        raise SourceError(f"aborted: {len(datasets.warnings)} data warning(s) are fatal with --strict", problems=datasets.warnings)
    progress("metrics", "computing metrics")
    results = compute_metrics(config, datasets.frames)
    model = build_scorecards(config, results)
    return CheckResult(config, datasets, results, model, warnings)


def _default_alias_target(out: Path, versions: Versions) -> str | None:
    index = out / "index.html"
    if index.is_file():
        m = re.search(r'<meta name="flowsite-default" content="([^"]+)"', index.read_text(encoding="utf-8", errors="replace"))
        if m and m.group(1) in versions.all_names():
            return m.group(1)
    return None


def _data_dirs(config: Config) -> list[Path]:
    dirs = set()
    for spec in config.sources.values():
        if spec.path:
            p = config.resolve(spec.path.split("*")[0]) if "*" in spec.path else config.resolve(spec.path)
            d = p if p.is_dir() else p.parent
            if d != config.project_dir:
                dirs.add(d)
    return sorted(dirs)


def build(project: str | Path = ".", *, out: str | Path | None = None, version: str | None = None, title: str | None = None,
          aliases: list[str] | tuple[str, ...] | None = None, strict: bool = False, progress: Progress = _noop) -> BuildResult:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    progress("config", "reading flowsite.yml")
    config = load_config(project, strict=strict)
    if version is not None:
        validate_name(version)
    for a in aliases or ():
        validate_name(a, "alias")
    out_dir = Path(out).resolve() if out else config.output_dir
    check_output_dir(out_dir, config.project_dir, _data_dirs(config))
    timings["config"] = time.perf_counter() - t0

    t = time.perf_counter()
    progress("load", f"reading {len(config.sources)} dataset(s)")
    datasets = load_sources(config)
    if strict and datasets.warnings:
        raise SourceError(f"aborted: {len(datasets.warnings)} data warning(s) are fatal with --strict", problems=datasets.warnings)
    timings["load"] = time.perf_counter() - t

    t = time.perf_counter()
    progress("metrics", "computing metrics")
    results = compute_metrics(config, datasets.frames)
    model = build_scorecards(config, results)
    timings["metrics"] = time.perf_counter() - t

    version = version or results.periods[-1].label
    validate_name(version)
    version_title = title or version
    versions = Versions.load(out_dir / "versions.json")
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
        p = out_dir / prev.version / "data" / "metrics.json"
        if p.is_file():
            try:
                prev_doc = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                prev_doc = None
    current_doc = metrics_document(model, results, version, version_title)
    comparison = compare(prev_doc, current_doc)

    t = time.perf_counter()
    progress("render", f"rendering {len(model.scorecards)} scorecards")
    pages = load_pages(config.pages_dir, allow_html=config.markdown_html, shown_root=config.project_dir)
    known = [v.to_json() for v in versions.sorted().items]
    files, theme = render_version(config, model, results, pages, version, version_title, known, comparison)
    files.update(data_files(model, results, version, version_title))
    timings["render"] = time.perf_counter() - t

    t = time.perf_counter()
    progress("write", f"writing {len(files)} files to {out_dir}")
    with transaction(out_dir) as staging:
        vdir = staging / version
        remove_tree(vdir)
        for rel, data in sorted(files.items()):
            write_bytes(vdir / rel, data)
        versions.add(version, version_title, list(aliases), update_aliases=True)
        for a in aliases:
            remove_tree(staging / a)
            link_tree(vdir, staging / a)
        # Aliases that moved away from a folder leave no stale copy behind.
        default = _default_alias_target(out_dir, versions) or ("latest" if "latest" in versions.all_names() else versions.newest().version)
        sitemap = [f"{v.version}/{rel}".removesuffix("index.html") for v in versions.sorted().items for rel in ([p for p in sorted(files) if p.endswith(".html")] if v.version == version else ["index.html"])]
        root_files = render_root(config, theme, default, versions.dumps(), sitemap)
        for rel, data in root_files.items():
            write_bytes(staging / rel, data)
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    warnings = list(config.warnings) + list(datasets.warnings)
    return BuildResult(out_dir=out_dir, version=version, version_title=version_title, aliases=list(aliases), default=default, files=sorted(files),
                       model=model, results=results, comparison=comparison, warnings=warnings, timings=timings)
