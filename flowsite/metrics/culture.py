"""Westrum organisational culture score from survey responses."""
from __future__ import annotations

import polars as pl

from ..datasets import WESTRUM_ITEMS
from ._frame import empty_figures, summarise
from ._counts import count
from .periods import Period

BANDS = ((3.5, "pathological"), (5.5, "bureaucratic"), (7.01, "generative"))  # flowsite's own convention


def band(score: float | None) -> str | None:
    if score is None:
        return None
    return next(name for bound, name in BANDS if score < bound)


def compute(datasets: dict[str, pl.DataFrame], periods: list[Period], period: str, timezone: str) -> tuple[pl.DataFrame, dict[str, dict[str, int]]]:
    responses = datasets.get("survey_responses")
    if responses is None:
        return empty_figures(), {}
    items = [c for c, _ in WESTRUM_ITEMS]
    out_of_range = pl.any_horizontal([(pl.col(c) < 1) | (pl.col(c) > 7) for c in items])
    bad = count(responses.filter(out_of_range))
    ok = responses.filter(~out_of_range).with_columns(pl.mean_horizontal(items).alias("score"))
    figures = summarise(ok, "submitted_at", periods, period, timezone, [("westrum", pl.col("score").mean(), pl.len())])
    return figures, {"westrum": {"an answer outside 1-7": bad}}
