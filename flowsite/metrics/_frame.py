"""Shared helpers: turn per-row frames into the long `figures` frame."""
from __future__ import annotations

import polars as pl

from .periods import WINDOW, Period, in_window, period_label

FIGURE_SCHEMA = {"value_stream": pl.String, "metric": pl.String, "period": pl.String, "value": pl.Float64, "n": pl.Int64}


def empty_figures() -> pl.DataFrame:
    return pl.DataFrame(schema=FIGURE_SCHEMA)


def summarise(df: pl.DataFrame, ts_col: str, periods: list[Period], period: str, timezone: str, aggs: list[tuple[str, pl.Expr, pl.Expr]]) -> pl.DataFrame:
    """Aggregate rows per (value stream, period) and over the whole window, in one pass each.

    `aggs` is a list of (metric id, value expression, n expression).
    """
    rows = df.filter(in_window(ts_col, periods)).with_columns(period_label(ts_col, period, timezone).alias("period"))
    exprs = []
    for metric, value, n in aggs:
        exprs += [value.cast(pl.Float64).alias(f"v::{metric}"), n.cast(pl.Int64).alias(f"n::{metric}")]
    per = rows.group_by("value_stream", "period").agg(exprs)
    whole = rows.group_by("value_stream").agg(exprs).with_columns(pl.lit(WINDOW).alias("period"))
    wide = pl.concat([per, whole.select(per.columns)])
    return to_long(wide, [m for m, _, _ in aggs])


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
