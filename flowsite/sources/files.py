"""File readers: CSV, Parquet, JSON and NDJSON, by path or glob, read lazily where the format allows."""
from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from ..config import Config, SourceSpec, source_files as expand  # noqa: F401 - the readers' name for it
from ..errors import Problem, SourceError
from ._model import FILE, ROW, RawFrame

FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}


def display_path(config: Config, path: Path) -> str:
    try:
        return str(path.relative_to(config.project_dir))
    except ValueError:
        return str(path)


def guess_format(spec: SourceSpec, path: Path) -> str:
    if spec.format:
        return spec.format
    fmt = FORMATS.get(path.suffix.lower())
    if not fmt:
        raise SourceError(problems=[Problem(f"cannot tell the format from the extension {path.suffix!r}", file=path.name, key=f"sources.{spec.dataset}.format", hint="set format: csv, parquet, json or ndjson")])
    return fmt


def _decode(raw: bytes, encoding: str, shown: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif raw.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif encoding == "utf-8":
        encoding = "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(problems=[Problem(f"expected {encoding.replace('-sig', '')} text, got undecodable bytes at line {line}", file=shown, hint="set `encoding: latin-1` (or cp1252, utf-16) on this source")]) from None
    if "\x00" in text:
        # UTF-16 without a byte-order mark decodes as "valid" UTF-8 full of NULs.
        line = text[: text.index("\x00")].count("\n") + 1
        hint = "set `encoding: utf-16` on this source" if encoding != "utf-16" else "remove the NUL characters from the export"
        raise SourceError(problems=[Problem(f"expected {encoding.replace('-sig', '')} text, got NUL characters at line {line}", file=shown, hint=hint)])
    return text


def read_csv(path: Path, shown: str, spec: SourceSpec) -> pl.DataFrame:
    """All CSV columns are read as text; normalize() types them so errors can name the row."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(problems=[Problem(f"cannot read: {exc.strerror}", file=shown)]) from None
    if not raw.strip():
        raise SourceError(problems=[Problem("the file is empty", file=shown, hint="export the data again with a header row")])
    text = _decode(raw, spec.encoding, shown)
    sep = {"\\t": "\t", "tab": "\t"}.get(spec.delimiter, spec.delimiter)
    if path.suffix.lower() == ".tsv" and sep == ",":
        sep = "\t"
    if len(sep.encode("utf-8")) != 1 or sep in '"\r\n':
        raise SourceError(problems=[Problem(f"expected a one-character field separator, got {sep!r}", file=shown, key=f"sources.{spec.dataset}.delimiter", hint="use one ASCII character such as ',', ';', '|' or \\t")])
    try:
        df = pl.read_csv(text.encode("utf-8"), separator=sep, infer_schema=False, quote_char='"', truncate_ragged_lines=False, row_index_name=ROW, row_index_offset=2)
    except (pl.exceptions.PolarsError, ValueError, OverflowError) as exc:
        msg = str(exc).splitlines()[0]
        raise SourceError(problems=[Problem(f"cannot parse as CSV: {msg}", file=shown, hint="check for stray quotes or rows with more fields than the header")]) from None
    if ROW in df.columns:
        df = df.with_columns(pl.col(ROW).cast(pl.Int64))
    if len(set(df.columns)) != len(df.columns):  # pragma: no cover - polars renames duplicates
        pass
    return df.with_columns(pl.lit(shown).alias(FILE))


def read_parquet(path: Path, shown: str) -> pl.LazyFrame:
    try:
        lf = pl.scan_parquet(path)
        lf.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(problems=[Problem(f"cannot read as Parquet: {str(exc).splitlines()[0]}", file=shown, hint="check the file is a complete Parquet file")]) from None
    return lf.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64), pl.lit(shown).alias(FILE))


def read_json(path: Path, shown: str, fmt: str) -> pl.DataFrame:
    try:
        text = _decode(path.read_bytes(), "utf-8", shown)
    except OSError as exc:
        raise SourceError(problems=[Problem(f"cannot read: {exc.strerror}", file=shown)]) from None
    lineno = 0
    try:
        if fmt == "ndjson":
            records = []
            for lineno, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    records.append(json.loads(line))
        else:
            data = json.loads(text)
            records = data if isinstance(data, list) else next((v for v in data.values() if isinstance(v, list)), None) if isinstance(data, dict) else None
            if records is None:
                raise SourceError(problems=[Problem("expected a JSON list of records (or an object holding one)", file=shown)])
    except json.JSONDecodeError as exc:
        line = lineno if fmt == "ndjson" else exc.lineno  # NDJSON is decoded one line at a time
        raise SourceError(problems=[Problem(f"invalid JSON: {exc.msg} at line {line}, column {exc.colno}", file=shown, line=line, hint="each line must be one JSON object" if fmt == "ndjson" else None)]) from None
    except (RecursionError, ValueError) as exc:  # ValueError: an integer with thousands of digits
        what = "values nested too deeply" if isinstance(exc, RecursionError) else "a number too long"
        raise SourceError(problems=[Problem(f"expected JSON records, got {what} to read", file=shown, line=lineno or None)]) from None
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        raise SourceError(problems=[Problem("expected an object (record)", file=shown, row=bad + 1)])
    # Values stay as text (None kept) so normalize() can name bad rows like it does for CSV.
    cols = sorted({k for r in records for k in r})
    try:
        data = {c: [None if r.get(c) is None else (json.dumps(r[c]) if isinstance(r[c], (dict, list)) else str(r[c]) if not isinstance(r[c], bool) else str(r[c]).lower()) for r in records] for c in cols}
    except (RecursionError, ValueError):  # ValueError: an integer too long to print
        raise SourceError(problems=[Problem("expected JSON records of plain values, got values nested too deeply or numbers too long to read", file=shown)]) from None
    data[ROW] = list(range(1, len(records) + 1))  # first, so records without any field still count as rows
    df = pl.DataFrame(data, schema={ROW: pl.Int64} | {c: pl.String for c in cols})
    return df.with_columns(pl.lit(shown).alias(FILE))


def _check_same_types(frames: list[pl.LazyFrame], shown: list[str]) -> None:
    """Files of one glob must agree on each column's type (e.g. not naive timestamps in one, UTC in another)."""
    seen: dict[str, tuple[pl.DataType, str]] = {}
    problems = []
    for frame, name in zip(frames, shown):
        for col, dtype in frame.collect_schema().items():
            if dtype == pl.Null or col in (FILE, ROW):
                continue
            if col in seen and seen[col][0] != dtype:
                problems.append(Problem(f"expected the same type in every file, got {seen[col][0]} in {seen[col][1]} and {dtype} here", file=name, column=col, hint="export every file the same way (same time zone setting, same column types)"))
            seen.setdefault(col, (dtype, name))
    if problems:
        raise SourceError(problems=problems)


def read_files(config: Config, spec: SourceSpec) -> RawFrame:
    frames = []
    for path in expand(config, spec):
        shown = display_path(config, path)
        fmt = guess_format(spec, path)
        if fmt == "csv":
            frames.append(read_csv(path, shown, spec).lazy())
        elif fmt == "parquet":
            frames.append(read_parquet(path, shown))
        elif fmt in ("json", "ndjson"):
            frames.append(read_json(path, shown, fmt).lazy())
        else:
            raise SourceError(problems=[Problem(f"unknown format {fmt!r}", file=str(config.config_file), key=f"sources.{spec.dataset}.format", hint="use csv, parquet, json, ndjson or a preset name")])
    if len(frames) > 1:
        _check_same_types(frames, [display_path(config, p) for p in expand(config, spec)])
    frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    return RawFrame(frame=frame, origin=spec.path, timezone=spec.timezone, date_format=spec.date_format)
