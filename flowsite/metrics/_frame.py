"""Shared helpers: turn per-row frames into the long `figures` frame."""
from __future__ import annotations

import polars as pl

from .periods import UTC, WINDOW, Period, contiguous, in_window, index_labels, period_index, period_label

FIGURE_SCHEMA = {"value_stream": pl.String, "metric": pl.String, "period": pl.String, "value": pl.Float64, "n": pl.Int64}


def divided(expr: pl.Expr, by: float) -> pl.Expr:
    """`expr / by` for a constant `by`, the same for any number of rows: polars divides a one-row
    column by a constant exactly and a longer one by multiplying with the reciprocal (one ulp
    apart); multiplying gives the longer result at every length, so a value stream's figures do not
    depend on how many rows were computed with it (the incremental build computes a few)."""
    return expr.cast(pl.Float64) * (1.0 / by)


def empty_figures() -> pl.DataFrame:
    return pl.DataFrame(schema=FIGURE_SCHEMA)


def summarise(df: pl.DataFrame | pl.LazyFrame, ts_col: str, periods: list[Period], period: str, timezone: str, aggs: list[tuple[str, pl.Expr, pl.Expr]]) -> pl.DataFrame:
    """Aggregate rows per (value stream, period) and over the whole window, in one pass each.

    `aggs` is a list of (metric id, value expression, n expression). Rows are grouped by the index
    of their period (a binary search over the period starts), and only the aggregated rows get a
    label: no time zone conversion and no text per row. Only the columns the aggregations use are read.
    """
    exprs = []
    for metric, value, n in aggs:
        exprs += [value.cast(pl.Float64).alias(f"v::{metric}"), n.cast(pl.Int64).alias(f"n::{metric}")]
    rows = df.lazy().filter(in_window(ts_col, periods))  # a LazyFrame too: only the columns read are computed
    per = group_by_period(rows, ts_col, periods, period, timezone, exprs)
    whole = rows.group_by("value_stream").agg(exprs).with_columns(pl.lit(WINDOW).alias("period"))
    per, whole = pl.collect_all([per, whole])
    wide = pl.concat([per.select(whole.columns), whole])
    return to_long(wide, [m for m, _, _ in aggs])


def group_by_period(rows: pl.LazyFrame, ts_col: str, periods: list[Period], period: str, timezone: str, aggs: list[pl.Expr]) -> pl.LazyFrame:
    """`aggs` per (value_stream, period) of rows inside the window: grouped by the period's index
    (see period_index), labelled after aggregating; by the label of each row's local date where
    the periods are not the calendar's (e.g. a lone window span)."""
    if contiguous(periods) and rows.collect_schema()[ts_col] == UTC:
        return (
            rows.group_by("value_stream", period_index(ts_col, periods).alias("_period")).agg(aggs)
            .with_columns(index_labels("_period", periods).alias("period")).drop("_period")
        )
    return rows.group_by("value_stream", period_label(ts_col, period, timezone).alias("period")).agg(aggs)


def stream_blocks(df: pl.DataFrame) -> list[tuple[str | None, int, int]]:
    """(value stream, first row, rows) of each run of rows with the same value stream, in row order:
    in a frame sorted by value stream, one block per value stream (slices of it, no copies)."""
    blocks, start = [], 0
    for n, vs in df.get_column("value_stream").rle().struct.unnest().iter_rows():
        blocks.append((vs, start, n))
        start += n
    return blocks


def sort_by_stream(df: pl.DataFrame, ts_col: str, tiebreak: str = "id", *, nulls_last: bool = False) -> pl.DataFrame:
    """`df.sort("value_stream", ts_col, tiebreak, nulls_last=nulls_last)`, the same rows in the same order, faster.

    Value streams are numbered in text order and packed with the timestamp into one integer key,
    so the sort is one integer sort; only rows that tie on both (value stream and time) are ordered
    by the tie-break text. Falls back to the plain sort for small frames or keys that do not fit.
    """
    if df.height < 10_000 or not isinstance(df.schema[ts_col], pl.Datetime) or df.schema["value_stream"] != pl.String:
        return df.sort("value_stream", ts_col, tiebreak, nulls_last=nulls_last)
    vs = df.get_column("value_stream")
    names = vs.drop_nulls().unique().sort()
    t = df.get_column(ts_col).dt.epoch("us")
    lo, hi = t.min(), t.max()
    if lo is None or len(names) == 0:
        return df.sort("value_stream", ts_col, tiebreak, nulls_last=nulls_last)
    span = hi - lo + 2  # 0 and span - 1 are kept for nulls
    tbits, vbits = span.bit_length(), (len(names) + 1).bit_length()
    if tbits + vbits > 62:
        return df.sort("value_stream", ts_col, tiebreak, nulls_last=nulls_last)
    null_vs = len(names) + 1 if nulls_last else 0
    null_t = span if nulls_last else 0
    key = pl.DataFrame({"v": vs.cast(pl.Enum(names)), "t": t}).select(
        (pl.col("v").to_physical().cast(pl.Int64).add(1).fill_null(null_vs) * (1 << tbits) + (pl.col("t") - lo + 1).fill_null(null_t)).alias("k")
    ).get_column("k")
    order = key.arg_sort()
    ranked = key.gather(order)
    tied = ((ranked == ranked.shift(1)) | (ranked == ranked.shift(-1))).fill_null(False)
    if tied.any():
        at = tied.arg_true()
        fix = pl.DataFrame({"k": ranked.gather(at), "i": order.gather(at), "b": df.get_column(tiebreak).gather(order.gather(at))})
        order = order.scatter(at, fix.sort("k", "b", nulls_last=nulls_last).get_column("i"))
    return df[order]


def to_long(wide: pl.DataFrame, metrics: list[str]) -> pl.DataFrame:
    parts = [
        wide.select(
            pl.col("value_stream"),
            pl.lit(m).alias("metric"),
            pl.col("period"),
            pl.col(f"v::{m}").cast(pl.Float64).alias("value"),
            pl.col(f"n::{m}").cast(pl.Int64).alias("n"),
        )
        for m in metrics
    ]
    if not parts:
        return empty_figures()
    return pl.concat(parts).with_columns(pl.col("value").fill_nan(None))
