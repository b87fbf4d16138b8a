"""Type, check and clean a raw dataset into its canonical form.

Unparseable values, missing columns, unknown item types and duplicate ids are errors naming the
file, row and column. Rows unusable for data-quality reasons (a missing required value, resolved
before created, an unknown value stream) are dropped and counted with the reason.
"""
from __future__ import annotations

import polars as pl

from ..config import Config
from ..datasets import DATASETS, ID_COLUMNS, column_kind
from ..errors import Problem
from ._model import FILE, ROW, DatasetReport, RawFrame

MAX_SHOWN = 5
OFFSET_RE = r"(?:Z|z|[+-]\d\d:?\d\d)$"
TRUE = {"true", "t", "yes", "y", "1"}
FALSE = {"false", "f", "no", "n", "0", ""}


def parse_timestamps(col: pl.Expr, timezone: str, date_format: str | None = None) -> pl.Expr:
    """Text -> UTC datetime. Offsets are honoured; naive values are read in `timezone`."""
    text = col.cast(pl.String).str.strip_chars()
    if date_format:
        naive = text.str.to_datetime(date_format, strict=False, time_unit="us")
        return naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
    iso = text.str.replace(r"^(\d{4}-\d\d-\d\d)[ T]", "${1}T").str.replace(r"[zZ]$", "+00:00")
    iso = pl.when(iso.str.contains(r"^\d{4}-\d\d-\d\d$")).then(iso + "T00:00:00").otherwise(iso)
    iso = iso.str.replace(r"T(\d\d:\d\d)([+-]|$)", "T${1}:00${2}")  # allow HH:MM
    iso = iso.str.replace(r"([+-]\d\d)(\d\d)$", "${1}:${2}")  # +0200 -> +02:00
    aware = iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us", time_zone="UTC")
    naive = (
        iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
        .dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    return pl.when(iso.str.contains(OFFSET_RE)).then(aware).otherwise(naive)


def _coerce(df: pl.DataFrame, column: str, raw: RawFrame) -> tuple[pl.Expr, pl.Expr]:
    """(typed expression, 'bad value' mask) for one canonical column."""
    kind = column_kind(column)
    dtype = df.schema[column]
    src = pl.col(column)
    if kind == "datetime":
        if isinstance(dtype, pl.Datetime):
            typed = src.dt.convert_time_zone("UTC") if dtype.time_zone else src.dt.replace_time_zone(raw.timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
            typed = typed.dt.cast_time_unit("us")
        elif isinstance(dtype, pl.Date):
            typed = src.cast(pl.Datetime("us")).dt.replace_time_zone(raw.timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
        elif dtype.is_numeric():
            typed = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
            return typed, src.is_not_null()
        else:
            typed = parse_timestamps(src, raw.timezone, raw.date_format)
    elif kind == "float":
        if dtype.is_numeric():
            typed = src.cast(pl.Float64)
        else:
            typed = src.cast(pl.String).str.strip_chars().str.replace(r"^$", "").cast(pl.Float64, strict=False)
            blank = src.cast(pl.String).str.strip_chars() == ""
            return typed, src.is_not_null() & ~blank & typed.is_null()
    elif kind == "bool":
        if dtype == pl.Boolean:
            typed = src
        else:
            low = src.cast(pl.String).str.strip_chars().str.to_lowercase()
            typed = pl.when(low.is_in(list(TRUE))).then(True).when(low.is_in(list(FALSE))).then(False).otherwise(None)
            return typed, src.is_not_null() & typed.is_null()
    else:
        typed = src.cast(pl.String).str.strip_chars()
        typed = pl.when(typed == "").then(None).otherwise(typed)
        return typed, pl.lit(False)
    blank = src.cast(pl.String).str.strip_chars() == "" if dtype == pl.String else pl.lit(False)
    return typed, src.is_not_null() & ~blank.fill_null(False) & typed.is_null()


def _rows(df: pl.DataFrame, mask: pl.Series) -> tuple[list[tuple[str, int]], int]:
    hit = df.filter(mask).select(FILE, ROW)
    return [(f, r) for f, r in hit.head(MAX_SHOWN).iter_rows()], hit.height


def normalize(dataset: str, raw: RawFrame, config: Config, report: DatasetReport) -> tuple[pl.DataFrame | None, list[Problem], list[Problem]]:
    """Returns (frame, errors, warnings). The frame is None when there are errors."""
    spec = DATASETS[dataset]
    errors: list[Problem] = []
    warnings: list[Problem] = []
    df = raw.frame.collect() if isinstance(raw.frame, pl.LazyFrame) else raw.frame
    report.rows_read = df.height
    source = config.sources.get(dataset)
    if source and source.value_stream and "value_stream" not in df.columns and "value_stream" in spec.columns:
        df = df.with_columns(pl.lit(source.value_stream).alias("value_stream"))
    missing = [c for c in spec.required if c not in df.columns]
    if missing:
        have = [c for c in df.columns if c not in (FILE, ROW)]
        for c in missing:
            errors.append(Problem(f"expected a column for '{c}', found none (columns: {', '.join(have[:15])}{'…' if len(have) > 15 else ''})", file=raw.origin, column=c, hint=f"map it in flowsite.yml: sources.{dataset}.columns.{c}: <your column name>"))
        return None, errors, warnings
    present = [c for c in spec.columns if c in df.columns]
    typed_exprs = []
    for c in present:
        typed, bad = _coerce(df, c, raw)
        mask = df.select(bad.fill_null(False).alias("m")).to_series()
        if mask.any():
            rows, count = _rows(df, mask)
            sample = df.filter(mask).get_column(c).head(1).cast(pl.String).to_list()[0]
            kind = column_kind(c)
            expected = {"datetime": "a timestamp like 2026-10-31T14:05:00+00:00", "float": "a number", "bool": "true or false"}[kind]
            hint = "set `date_format` on this source (e.g. '%d/%m/%Y %H:%M')" if kind == "datetime" else None
            for f, r in rows:
                errors.append(Problem(f"expected {expected}, got {df.filter((pl.col(FILE) == f) & (pl.col(ROW) == r)).get_column(c).cast(pl.String)[0]!r}", file=f, row=r, column=c, hint=hint))
            if count > len(rows):
                errors.append(Problem(f"... and {count - len(rows)} more rows with unparseable values like {sample!r}", file=raw.origin, column=c))
        typed_exprs.append(typed.alias(c))
    if errors:
        return None, errors, warnings
    df = df.select(pl.col(FILE), pl.col(ROW), *typed_exprs)

    if dataset == "work_items":
        low = pl.col("type").str.to_lowercase()
        mapped = low.replace_strict(config.types, default=None, return_dtype=pl.String)
        bad = df.select((pl.col("type").is_not_null() & mapped.is_null()).alias("m")).to_series()
        if bad.any():
            rows, count = _rows(df, bad)
            unknown = sorted(set(df.filter(bad).get_column("type").to_list()))
            for f, r in rows:
                t = df.filter((pl.col(FILE) == f) & (pl.col(ROW) == r)).get_column("type")[0]
                errors.append(Problem(f"expected a flow item type (feature, defect, risk, debt), got {t!r}", file=f, row=r, column="type", hint=f"map it in flowsite.yml, e.g. types: {{feature: [{t!r}]}}"))
            if count > len(rows):
                errors.append(Problem(f"... and {count - len(rows)} more rows with unknown types ({', '.join(map(repr, unknown[:8]))})", file=raw.origin, column="type"))
            return None, errors, warnings
        df = df.with_columns(mapped.alias("type"))
    if dataset == "status_changes":
        cat = pl.col("status").str.to_lowercase().replace_strict(config.statuses, default=None, return_dtype=pl.String)
        df = df.with_columns(cat.alias("category"))
        unmapped = sorted(set(df.filter(pl.col("category").is_null() & pl.col("status").is_not_null()).get_column("status").to_list()))
        if unmapped:
            report.unmapped["status"] = unmapped
            warnings.append(Problem(f"statuses with no category are ignored for flow time and load: {', '.join(map(repr, unmapped[:10]))}", file=raw.origin, column="status", hint="map them under `statuses:` in flowsite.yml (new, waiting, active, done, canceled)"))
    if dataset == "deployments":
        if "environment" in df.columns:
            df = df.with_columns(pl.col("environment").str.to_lowercase())
        if "result" in df.columns:
            r = pl.col("result").str.to_lowercase()
            df = df.with_columns(
                pl.when(r.is_in(["success", "succeeded", "successful", "ok", "passed", "done", "deployed"])).then(pl.lit("success"))
                .when(r.is_in(["failure", "failed", "error", "errored", "fail", "crashed"])).then(pl.lit("failure"))
                .when(r.is_null()).then(pl.lit("success"))
                .otherwise(r).alias("result")
            )

    # Data-quality drops: counted with their reason, never silent.
    def drop(mask_expr: pl.Expr, reason: str) -> None:
        nonlocal df
        mask = df.select(mask_expr.fill_null(False).alias("m")).to_series()
        n = int(mask.sum())
        if n:
            report.drop(reason, n)
            rows, _ = _rows(df, mask)
            where = ", ".join(f"row {r}" for _, r in rows) + (" …" if n > len(rows) else "")
            warnings.append(Problem(f"{n} row(s) dropped: {reason} ({where})", file=raw.origin))
            df = df.filter(~mask)

    for c in spec.required:
        drop(pl.col(c).is_null(), f"missing {c}")
    pairs = {"work_items": [("completed_at", "created_at"), ("canceled_at", "created_at")], "incidents": [("resolved_at", "created_at")], "changes": [("merged_at", "first_commit_at")]}
    for later, earlier in pairs.get(dataset, []):
        if later in df.columns:
            drop(pl.col(later) < pl.col(earlier), f"{later} before {earlier}")
    if "value_stream" in df.columns and config.value_streams:
        known = [v.id for v in config.value_streams]
        unknown = sorted(set(df.filter(~pl.col("value_stream").is_in(known)).get_column("value_stream").drop_nulls().to_list()))
        if unknown:
            report.unmapped["value_stream"] = unknown
        drop(~pl.col("value_stream").is_in(known), f"value stream not in flowsite.yml ({', '.join(map(repr, unknown[:5]))})")

    id_col = ID_COLUMNS.get(dataset)
    if id_col:
        dup = df.select(pl.col(id_col).is_duplicated().alias("m")).to_series()
        if dup.any():
            rows, count = _rows(df, dup)
            first = df.filter(dup).get_column(id_col)[0]
            errors.append(Problem(f"expected unique ids, got {id_col} {first!r} on {count} rows ({', '.join(f'{f} row {r}' for f, r in rows)})", file=raw.origin, column=id_col, hint="remove the duplicate rows or export without repeated records"))
            return None, errors, warnings

    report.rows_used = df.height
    ts = [c for c in df.columns if column_kind(c) == "datetime" and c != FILE]
    if ts and df.height:
        main = spec.required[-1] if column_kind(spec.required[-1]) == "datetime" else ts[0]
        rng = df.select(pl.col(main).min().alias("a"), pl.col(main).max().alias("b")).row(0)
        report.first = rng[0].isoformat() if rng[0] else None
        report.last = rng[1].isoformat() if rng[1] else None
    if "value_stream" in df.columns:
        report.value_streams = sorted(df.get_column("value_stream").drop_nulls().unique().to_list())
    return df.drop(FILE, ROW), errors, warnings
