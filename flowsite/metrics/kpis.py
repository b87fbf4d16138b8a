"""Business KPIs: the latest observation per period."""
from __future__ import annotations

import polars as pl

from ._frame import empty_figures
from .periods import WINDOW, Period, in_window, period_label


def compute(datasets: dict[str, pl.DataFrame], periods: list[Period], period: str, timezone: str) -> pl.DataFrame:
    kpis = datasets.get("kpis")
    if kpis is None:
        return empty_figures()
    rows = kpis.filter(in_window("date", periods)).sort("date").with_columns(period_label("date", period, timezone).alias("period"), ("kpi." + pl.col("kpi")).alias("metric"))
    per = rows.group_by("value_stream", "metric", "period").agg(pl.col("value").last(), pl.len().alias("n"))
    whole = rows.group_by("value_stream", "metric").agg(pl.col("value").last(), pl.len().alias("n")).with_columns(pl.lit(WINDOW).alias("period"))
    return pl.concat([per, whole.select(per.columns)]).select("value_stream", "metric", "period", pl.col("value").cast(pl.Float64), pl.col("n").cast(pl.Int64))
