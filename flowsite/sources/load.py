"""Read every configured dataset and normalise it; collect all problems before failing."""
from __future__ import annotations

import concurrent.futures
import threading

import polars as pl

from ..config import Config, SourceSpec
from ..errors import Problem, SourceError
from ._model import FILE, ROW, Datasets, DatasetReport, RawFrame
from .files import FORMATS, expand, read_files
from .normalize import normalize
from .presets import PRESETS

_DATABASE = threading.Lock()


def _apply_mapping(raw: RawFrame, spec: SourceSpec) -> RawFrame:
    """Rename the user's columns to canonical names (canonical -> file column in config)."""
    if not spec.columns:
        return raw
    frame = raw.frame
    cols = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    missing = [(canon, src) for canon, src in spec.columns.items() if src not in cols]
    if missing:
        have = [c for c in cols if c not in (FILE, ROW)]
        raise SourceError(problems=[
            Problem(f"expected a column {src!r} (mapped to '{canon}'), found none; the file has: {', '.join(have[:15])}", file=raw.origin, column=src, key=f"sources.{spec.dataset}.columns.{canon}", hint="column names are case-sensitive; check the header row")
            for canon, src in missing
        ])
    # Drop canonical-named columns that a mapping replaces, then rename.
    targets = set(spec.columns)
    keep = [c for c in cols if not (c in targets and c not in spec.columns.values())]
    frame = frame.select(keep).rename({src: canon for canon, src in spec.columns.items() if src != canon})
    return RawFrame(frame=frame, origin=raw.origin, timezone=raw.timezone, date_format=raw.date_format)


def is_preset(spec: SourceSpec) -> bool:
    """Whether a source is read by an export preset (`format:` names one) rather than as plain files."""
    return bool(spec.format) and spec.format not in set(FORMATS.values())


def _is_database(spec: SourceSpec) -> bool:
    return bool(spec.duckdb or spec.dbt_ref or spec.postgres)


def reads_plain_files(spec: SourceSpec) -> bool:
    """Whether a source is read from its data files alone (CSV, Parquet, JSON): not a database, dbt
    or an export preset, which may read more than the files its `path` names."""
    return bool(spec.path) and not is_preset(spec) and not _is_database(spec)


def read_source(config: Config, spec: SourceSpec) -> RawFrame:
    if is_preset(spec):
        preset = PRESETS.get(spec.format)
        if preset is None:
            from . import presets as _presets

            _presets.load_builtin()

            preset = PRESETS.get(spec.format)
        if preset is None:
            raise SourceError(problems=[Problem(f"unknown format or preset {spec.format!r}", file=str(config.config_file), key=f"sources.{spec.dataset}.format", hint="use csv, parquet, json, ndjson or one of: " + ", ".join(sorted(PRESETS)))])
        return _apply_mapping(preset(config, spec), spec)
    if _is_database(spec):
        from . import database

        with _DATABASE:  # database sources one at a time: two read-only opens of one DuckDB file at once may conflict
            return _apply_mapping(database.read(config, spec), spec)
    return _apply_mapping(read_files(config, spec), spec)


SUMMARISED = ("type", "category", "environment", "result", "severity")


def mapping_summary(frame: pl.DataFrame, known: dict[str, dict[str, int]] | None = None) -> dict[str, dict[str, int]]:
    """Counts of the mapped categorical columns, so `flowsite check` shows what the mapping did.

    `known` holds counts `normalize` already made on the way (status categories, counted over the
    distinct statuses): they are taken as they are rather than counted again over every row.
    """
    out: dict[str, dict[str, int]] = {}
    for col in SUMMARISED:
        if known and col in known:
            out[col] = known[col]
        elif col in frame.columns:
            counts = frame.get_column(col).cast(pl.String).fill_null("(none)").value_counts(sort=True, name="n")
            out[col] = {str(v): int(n) for v, n in counts.sort(["n", col], descending=[True, False]).iter_rows()}
    return out


def _load_one(config: Config, name: str, spec: SourceSpec, reuse) -> tuple[pl.DataFrame | None, DatasetReport | None, list[Problem], list[Problem]]:
    """One dataset: (frame, report, errors, warnings); the frame is None when it has errors."""
    got = reuse.loaded(config, name, spec) if reuse is not None else None
    if got is not None:
        frame, report, warns = got
        return frame, report, [], list(warns)
    report = DatasetReport(name=name, origin=spec.path or spec.table or spec.dbt_ref or spec.query or "")
    try:
        raw = read_source(config, spec)
        report.origin = raw.origin
        frame, errs, warns = normalize(name, raw, config, report)
    except SourceError as exc:
        return None, None, exc.problems or [Problem(str(exc))], []
    if frame is not None:
        report.mapped = mapping_summary(frame, report.mapped)
        if reuse is not None and not errs:
            reuse.keep_loaded(name, frame, report, warns)
    return frame, report, errs, warns


def _longest_first(config: Config, names: list[str], reuse) -> list[str]:
    """The datasets in the order the two threads take them: the ones read and normalised afresh
    first, largest first, then the ones an earlier build's load gives. The longest task begun
    first ends the stage soonest: behind the small cached ones, the two changed datasets of a
    rebuild started a third of the stage late."""
    def size(name: str) -> int:
        spec = config.sources[name]
        if not reads_plain_files(spec):
            return 0
        try:
            return sum(p.stat().st_size for p in expand(config, spec))
        except (OSError, SourceError):
            return 0  # reported by the loader

    def cached(name: str) -> bool:
        return reuse is not None and reuse.has_loaded(config, name, config.sources[name])

    return sorted(names, key=lambda n: (cached(n), -size(n)))


def load_sources(config: Config, *, datasets: list[str] | None = None, reuse=None) -> Datasets:
    """Read, type and check every configured dataset. Raises SourceError listing every problem.

    `reuse` (the build's incremental cache) gives a dataset as an earlier build loaded it from
    the same files, `reuse.loaded(config, name, spec)`, and keeps the ones loaded afresh,
    `reuse.keep_loaded(name, frame, report, warnings)`; `reuse.has_loaded(config, name, spec)`
    tells which it has, to begin with the others.

    Datasets are read in two threads: polars reads and checks without holding the interpreter,
    so one dataset's Python steps run while the other's columns are scanned. The problems are
    reported in the config's order all the same."""
    names = [n for n in config.sources if datasets is None or n in datasets]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(2, len(names) or 1), thread_name_prefix="flowsite-load") as pool:
        order = _longest_first(config, names, reuse)
        got = dict(zip(order, pool.map(lambda n: _load_one(config, n, config.sources[n], reuse), order)))
    loaded = [got[n] for n in names]
    frames: dict[str, pl.DataFrame] = {}
    reports: dict[str, DatasetReport] = {}
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for name, (frame, report, errs, warns) in zip(names, loaded):
        errors.extend(errs)
        warnings.extend(warns)
        if report is not None:
            reports[name] = report
        if frame is not None:
            frames[name] = frame
    if errors:
        raise SourceError(f"aborted: {len(errors)} data problem(s); nothing was written", problems=errors)
    return Datasets(frames=frames, reports=reports, warnings=warnings)
