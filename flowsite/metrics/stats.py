"""Medians and percentiles as each profile defines them."""
from __future__ import annotations

import polars as pl


def median_expr(col: str | pl.Expr, kind: str = "interpolated") -> pl.Expr:
    """`interpolated`: mean of the two middle values (Four Keys' PERCENTILE_CONT, flowsite).
    `lower`: DevLake's lower median, the largest value whose percent_rank is <= 0.5."""
    e = pl.col(col) if isinstance(col, str) else col
    if kind == "lower":
        return e.quantile(0.5, interpolation="lower")  # index floor((n-1)/2), as percent_rank <= 0.5
    return e.median()


def quantile_expr(col: str | pl.Expr, q: float) -> pl.Expr:
    e = pl.col(col) if isinstance(col, str) else col
    return e.quantile(q, interpolation="linear")


def lower_median(values: list[float]) -> float | None:
    v = sorted(x for x in values if x is not None)
    return v[(len(v) - 1) // 2] if v else None
