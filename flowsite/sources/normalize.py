"""Type, check and clean a raw dataset into its canonical form.

Unparseable values, missing columns, unknown item types and duplicate ids are errors naming the
file, row and column. Rows unusable for data-quality reasons (a missing required value, resolved
before created, an unknown value stream) are dropped and counted with the reason.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo

import polars as pl

from ..config import SLUG, STATUS_CATEGORIES, Config
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


def _fast_check(column: str, dtype: pl.DataType) -> pl.Expr | None:
    """An expression that is True when `column` must go through `_coerce`; None if it always must.

    When it is False the column is already in its canonical type and form: `_coerce` would return it
    unchanged and flag no value, so it is kept as it is (no copy, no per-value work).
    """
    kind = column_kind(column)
    src = pl.col(column)
    if kind == "str" and dtype == pl.String:
        # A value that needs trimming or is empty (-> null): the one vectorised test that lets a text
        # column already clean (the usual case for Parquet and databases) pass through untouched.
        # Comparing with the stripped value is a quarter faster than a regex at 10M rows.
        return ((src.str.strip_chars() != src) | (src.str.len_bytes() == 0)).any()
    if kind == "datetime" and dtype == pl.Datetime("us", "UTC"):
        return pl.lit(False)
    if kind == "float" and dtype == pl.Float64 and not column.startswith("westrum_"):
        return (~src.is_finite()).any()
    if kind == "bool" and dtype == pl.Boolean:
        return pl.lit(False)
    return None


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
        # NaN and infinity are not measurements: they would poison every median and chart.
        if dtype.is_numeric():
            typed = src.cast(pl.Float64)
            typed = pl.when(typed.is_finite()).then(typed).otherwise(None)
        else:
            typed = src.cast(pl.String).str.strip_chars().str.replace(r"^$", "").cast(pl.Float64, strict=False)
            typed = pl.when(typed.is_finite()).then(typed).otherwise(None)
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


RESULT_SUCCESS = ["success", "succeeded", "successful", "ok", "passed", "done", "deployed"]
RESULT_FAILURE = ["failure", "failed", "error", "errored", "fail", "crashed"]


def _result_category(low: pl.Series) -> pl.Series:
    """Deployment results (lower-cased) -> success / failure; other values kept, null stays null."""
    return pl.select(pl.when(low.is_in(RESULT_SUCCESS)).then(pl.lit("success")).when(low.is_in(RESULT_FAILURE)).then(pl.lit("failure")).otherwise(low)).to_series()


# A status change's category: one of five, held as a small number per row rather than its text (at
# 10M rows the text column was 160 MB of fresh memory in the load stage; the flow metrics count by
# the numbers, in this order).
CATEGORY = pl.Enum(list(STATUS_CATEGORIES))


def _replace_distinct(col: pl.Expr, old: pl.Series, new: pl.Series, dtype: pl.DataType = pl.String) -> pl.Expr:
    """`col` with each value of `old` replaced by the one at the same place in `new`; null otherwise."""
    keep = old.is_not_null()
    return col.replace_strict(old.filter(keep), new.filter(keep).cast(dtype), default=None, return_dtype=dtype)


def _map_distinct(values: pl.Series, fn) -> pl.Series:
    """fn(lower-cased values), computed on the distinct values only and spread back over the rows."""
    distinct = values.unique()
    out = _replace_distinct(pl.col(values.name), distinct, fn(distinct.str.to_lowercase()))
    return values.to_frame().select(out).to_series()


def show(value: object, limit: int = 60) -> str:
    """repr() of a value for a message, cut short: a 10 MB field must not become a 10 MB error."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + f"…' ({len(str(value))} characters)"


def _timestamp_hint(value: str | None, timezone: str) -> str:
    """Say why an ISO-looking local time failed: most often a daylight-saving gap."""
    generic = "write ISO 8601 such as 2026-10-31T14:05:00+01:00, or set `date_format` on this source (e.g. '%d/%m/%Y %H:%M')"
    try:
        naive = dt.datetime.fromisoformat((value or "").strip())
    except ValueError:
        return generic
    if naive.tzinfo is None:
        zone = zoneinfo.ZoneInfo(timezone)
        back = naive.replace(tzinfo=zone).astimezone(dt.timezone.utc).astimezone(zone).replace(tzinfo=None)
        if back != naive:
            return f"this local time does not exist in {timezone} (the clocks skip it); write it with its UTC offset, e.g. +01:00"
    return generic


def _rows(df: pl.DataFrame, mask: pl.Series) -> tuple[list[tuple[str, int]], int]:
    hit = df.filter(mask).select(FILE, ROW)
    return [(f, r) for f, r in hit.head(MAX_SHOWN).iter_rows()], hit.height


def normalize(dataset: str, raw: RawFrame, config: Config, report: DatasetReport) -> tuple[pl.DataFrame | None, list[Problem], list[Problem]]:
    """Returns (frame, errors, warnings). The frame is None when there are errors."""
    spec = DATASETS[dataset]
    errors: list[Problem] = []
    warnings: list[Problem] = []
    try:
        df = raw.frame.collect() if isinstance(raw.frame, pl.LazyFrame) else raw.frame
    except pl.exceptions.PolarsError as exc:
        return None, [Problem(f"cannot read the data: {str(exc).splitlines()[0][:200]}", file=raw.origin, hint="check the files are complete and of one shape")], warnings
    report.rows_read = df.height
    if df.height == 0:
        warnings.append(Problem("the file has a header but no rows; its metrics show 'no data'", file=raw.origin, hint=f"export {dataset} again, or remove it from `sources`"))
    source = config.sources.get(dataset)
    if source and source.value_stream and "value_stream" not in df.columns and "value_stream" in spec.columns:
        df = df.with_columns(pl.lit(source.value_stream).alias("value_stream"))
    missing = [c for c in spec.required if c not in df.columns]
    if missing:
        have = [c if len(c) <= 60 else c[:59] + "…" for c in df.columns if c not in (FILE, ROW)]
        sep = next((s for s in (";", "\t", "|") if len(have) == 1 and s in have[0]), None)
        for c in missing:
            hint = f"the header looks {sep!r}-separated: set `delimiter: {sep!r}` on sources.{dataset}" if sep else f"map it in flowsite.yml: sources.{dataset}.columns.{c}: <your column name>"
            errors.append(Problem(f"expected a column for '{c}', found none (columns: {', '.join(have[:15])}{'…' if len(have) > 15 else ''})", file=raw.origin, column=c, hint=hint))
        return None, errors, warnings
    present = [c for c in spec.columns if c in df.columns]
    checks = {c: e for c in present if (e := _fast_check(c, df.schema[c])) is not None}
    status_counts = None
    if dataset == "status_changes" and "status" in checks and df.height:
        # A handful of distinct statuses among millions of rows: counted now (the mapping below needs
        # the counts anyway) and checked for whitespace value by value rather than row by row.
        status_counts = df.lazy().group_by("status").agg(pl.len().alias("n")).collect()
        distinct = status_counts.get_column("status")
        del checks["status"]
        status_dirty = bool(((distinct.str.strip_chars() != distinct) | (distinct.str.len_bytes() == 0)).any())
    needs = df.select(e.fill_null(False).alias(c) for c, e in checks.items()).row(0, named=True) if checks and df.height else dict.fromkeys(checks, False)
    if status_counts is not None:
        needs["status"] = status_dirty
        if status_dirty:
            status_counts = None  # the values change: counted again once trimmed
    typed_cols: list[pl.Series] = []
    for c in present:
        kind = column_kind(c)
        dtype = df.schema[c]
        if dtype.is_nested() or dtype in (pl.Object, pl.Binary):
            errors.append(Problem(f"expected a column of plain values, got {dtype}", file=raw.origin, column=c, hint="export this column as text, numbers or timestamps"))
            continue
        if c in needs and not needs[c]:
            typed_cols.append(df.get_column(c))
            continue
        typed, bad = _coerce(df, c, raw)
        expected = {"datetime": "a timestamp like 2026-10-31T14:05:00+00:00", "float": "a finite number", "bool": "true or false", "str": "text"}[kind]
        if c.startswith("westrum_"):
            bad = bad | (typed.is_not_null() & ((typed < 1) | (typed > 7)))
            expected = "an answer from 1 to 7"
        try:
            out = df.select(typed.alias(c), bad.fill_null(False).alias("__bad"))
        except pl.exceptions.PolarsError as exc:
            errors.append(Problem(f"expected {expected}, got a {dtype} column that cannot be read as such ({str(exc).splitlines()[0][:120]})", file=raw.origin, column=c))
            continue
        mask = out.get_column("__bad")
        if mask.any():
            rows, count = _rows(df, mask)
            shown_values = df.filter(mask).get_column(c).head(len(rows)).cast(pl.String).to_list()
            for (f, r), value in zip(rows, shown_values):
                hint = _timestamp_hint(value, raw.timezone) if kind == "datetime" and not raw.date_format else ("check `date_format` on this source" if kind == "datetime" else None)
                errors.append(Problem(f"expected {expected}, got {show(value)}", file=f, row=r, column=c, hint=hint))
            if count > len(rows):
                errors.append(Problem(f"... and {count - len(rows)} more rows with values like {show(shown_values[0])}", file=raw.origin, column=c))
        typed_cols.append(out.get_column(c))
    if errors:
        return None, errors, warnings
    # Selected, not taken as Series: the file name is one value for every row (a scalar column), and
    # a Series of it is that text repeated, 10M times at scale (70 ms) for the rare error message.
    df = df.select(FILE, ROW).hstack(typed_cols)

    if dataset == "work_items":
        mapped = _map_distinct(df.get_column("type"), lambda low: low.replace_strict(config.types, default=None, return_dtype=pl.String))
        bad = df.select((pl.col("type").is_not_null() & mapped.is_null()).alias("m")).to_series()
        if bad.any():
            rows, count = _rows(df, bad)
            unknown = sorted(set(df.filter(bad).get_column("type").to_list()))
            for f, r in rows:
                t = df.filter((pl.col(FILE) == f) & (pl.col(ROW) == r)).get_column("type")[0]
                errors.append(Problem(f"expected a flow item type (feature, defect, risk, debt), got {show(t)}", file=f, row=r, column="type", hint=f"map it in flowsite.yml, e.g. types: {{feature: [{show(t)}]}}"))
            if count > len(rows):
                errors.append(Problem(f"... and {count - len(rows)} more rows with unknown types ({', '.join(map(show, unknown[:8]))})", file=raw.origin, column="type"))
            return None, errors, warnings
        df = df.with_columns(mapped.alias("type"))
    if dataset == "status_changes":
        # Mapped once per distinct status (a handful) rather than once per row (millions).
        counts = status_counts if status_counts is not None else df.lazy().group_by("status").agg(pl.len().alias("n")).collect()
        distinct = counts.get_column("status")
        cats = distinct.str.to_lowercase().replace_strict(config.statuses, default=None, return_dtype=pl.String)
        df = df.with_columns(_replace_distinct(pl.col("status"), distinct, cats, CATEGORY).alias("category"))
        unmapped = sorted(set(distinct.filter(cats.is_null() & distinct.is_not_null()).to_list()))
        per_category: dict[str, int] = {}
        for cat, n in zip(cats.fill_null("(none)").to_list(), counts.get_column("n").to_list()):
            per_category[cat] = per_category.get(cat, 0) + n
        summary_rows = df.height
        if unmapped:
            report.unmapped["status"] = unmapped
            warnings.append(Problem(f"statuses with no category are ignored for flow time and load: {', '.join(map(show, unmapped[:10]))}", file=raw.origin, column="status", hint="map them under `statuses:` in flowsite.yml (new, waiting, active, done, canceled)"))
    if dataset == "deployments":
        if "environment" in df.columns:
            df = df.with_columns(_map_distinct(df.get_column("environment"), lambda low: low))
        if "result" in df.columns:
            df = df.with_columns(_map_distinct(df.get_column("result"), _result_category).fill_null("success"))

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
        if df.get_column(c).null_count():
            drop(pl.col(c).is_null(), f"missing {c}")
    pairs = {"work_items": [("completed_at", "created_at"), ("canceled_at", "created_at")], "incidents": [("resolved_at", "created_at")], "changes": [("merged_at", "first_commit_at")]}
    for later, earlier in pairs.get(dataset, []):
        if later in df.columns:
            drop(pl.col(later) < pl.col(earlier), f"{later} before {earlier}")
    if "value_stream" in df.columns and config.value_streams:
        known = [v.id for v in config.value_streams]
        streams = df.get_column("value_stream").drop_nulls().unique()
        unknown = sorted(set(streams.filter(~streams.is_in(known)).to_list()))
        if unknown:
            report.unmapped["value_stream"] = unknown
            drop(~pl.col("value_stream").is_in(known), f"value stream not in flowsite.yml ({', '.join(map(show, unknown[:5]))})")
    # Ids become folder and file names (value-streams/<id>/, badges/kpi.<id>.svg): a "../x" from a data
    # file must never reach a path. Configured ids are checked in flowsite.yml; these come from data.
    for col, what in (("value_stream", "a value stream id"), ("kpi", "a KPI id")):
        if col in df.columns:
            # Checked on the distinct ids first: the row mask is only needed to name bad rows.
            if df.get_column(col).drop_nulls().unique().str.contains(f"^{SLUG}$").all():
                continue
            bad = df.select((pl.col(col).is_not_null() & ~pl.col(col).str.contains(f"^{SLUG}$")).alias("m")).to_series()
            if bad.any():
                rows, count = _rows(df, bad)
                for (f, r), value in zip(rows, df.filter(bad).get_column(col).head(len(rows)).to_list()):
                    errors.append(Problem(f"expected {what} (lowercase letters, digits, - and _), got {show(value)}", file=f, row=r, column=col,
                                          hint="declare value_streams in flowsite.yml (rows of other value streams are then dropped with a warning)" if col == "value_stream" else "use the KPI's id from flowsite.yml"))
                if count > len(rows):
                    errors.append(Problem(f"... and {count - len(rows)} more rows with such ids", file=raw.origin, column=col))
                return None, errors, warnings

    id_col = ID_COLUMNS.get(dataset)
    # Distinct 64-bit hashes prove distinct ids (several times faster than comparing the text);
    # only when two hashes meet are the ids compared.
    if id_col and df.get_column(id_col).hash(0).n_unique() < df.height and df.get_column(id_col).n_unique() < df.height:
        dup = df.select(pl.col(id_col).is_duplicated().alias("m")).to_series()
        if dup.any():
            rows, count = _rows(df, dup)
            first = df.filter(dup).get_column(id_col)[0]
            errors.append(Problem(f"expected unique ids, got {id_col} {show(first)} on {count} rows ({', '.join(f'{f} row {r}' for f, r in rows)})", file=raw.origin, column=id_col, hint="remove the duplicate rows or export without repeated records"))
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
    if dataset == "status_changes" and df.height == summary_rows:
        # No row dropped since the categories were counted: the counts stand for `mapping_summary`.
        report.mapped = {"category": dict(sorted(per_category.items(), key=lambda kv: (-kv[1], kv[0])))}
    return df.drop(FILE, ROW), errors, warnings
