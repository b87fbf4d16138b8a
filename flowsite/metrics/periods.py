"""Reporting periods (week, month, quarter) in the project's time zone."""
from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import polars as pl

EVERY = {"week": "1w", "month": "1mo", "quarter": "1q"}
WINDOW = "window"


@dataclass(frozen=True)
class Period:
    label: str
    start: dt.datetime  # UTC, inclusive
    end: dt.datetime  # UTC, exclusive

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


def label_of(local: dt.date, period: str) -> str:
    if period == "week":
        y, w, _ = local.isocalendar()
        return f"{y}-W{w:02d}"
    if period == "quarter":
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    return f"{local.year}-{local.month:02d}"


def start_of(local: dt.date, period: str) -> dt.date:
    if period == "week":
        return local - dt.timedelta(days=local.weekday())
    if period == "quarter":
        return dt.date(local.year, (local.month - 1) // 3 * 3 + 1, 1)
    return local.replace(day=1)


def next_start(start: dt.date, period: str) -> dt.date:
    if period == "week":
        return start + dt.timedelta(days=7)
    months = 3 if period == "quarter" else 1
    m = start.month - 1 + months
    return dt.date(start.year + m // 12, m % 12 + 1, 1)


def build_periods(as_of: dt.date, period: str, window: int, timezone: str) -> list[Period]:
    """The `window` periods ending with the one that contains `as_of`, oldest first."""
    tz = zoneinfo.ZoneInfo(timezone)
    starts = [start_of(as_of, period)]
    for _ in range(window - 1):
        s = starts[0]
        prev = start_of(s - dt.timedelta(days=1), period)
        starts.insert(0, prev)
    out = []
    for s in starts:
        e = next_start(s, period)
        to_utc = lambda d: dt.datetime.combine(d, dt.time(), tz).astimezone(dt.timezone.utc)  # noqa: E731
        out.append(Period(label_of(s, period), to_utc(s), to_utc(e)))
    return out


def period_label(col: str | pl.Expr, period: str, timezone: str) -> pl.Expr:
    """Expression giving the period label of a UTC timestamp column."""
    expr = pl.col(col) if isinstance(col, str) else col
    return date_label(expr.dt.convert_time_zone(timezone), period)


def date_label(local: str | pl.Expr, period: str) -> pl.Expr:
    """Period label of a local date or datetime column (2026-W05, 2026-10, 2026-Q4)."""
    local = pl.col(local) if isinstance(local, str) else local
    if period == "week":
        return local.dt.strftime("%G-W%V")
    if period == "quarter":
        return pl.concat_str([local.dt.year().cast(pl.String), pl.lit("-Q"), local.dt.quarter().cast(pl.String)])
    return local.dt.strftime("%Y-%m")


def in_window(col: str, periods: list[Period]) -> pl.Expr:
    return (pl.col(col) >= periods[0].start) & (pl.col(col) < periods[-1].end)


UTC = pl.Datetime("us", "UTC")
DAY_US = 86_400_000_000


def contiguous(periods: list[Period]) -> bool:
    """Calendar periods back to back with distinct labels (not a lone `window` span)."""
    labels = [p.label for p in periods]
    return bool(periods) and WINDOW not in labels and len(set(labels)) == len(labels) and all(a.end == b.start for a, b in zip(periods, periods[1:]))


def period_index(col: str | pl.Expr, periods: list[Period]) -> pl.Expr:
    """Index into `periods` (UInt32) of a UTC timestamp inside the window.

    A binary search over the periods' UTC starts: no time zone conversion and no text per row (the
    period starts are local midnights, so this is the period of the row's local date). Label the
    few aggregated rows afterwards with `index_labels`.
    """
    expr = pl.col(col) if isinstance(col, str) else col
    starts = pl.Series("starts", [p.start for p in periods[1:]], dtype=UTC)
    return pl.lit(starts).search_sorted(expr, side="right").cast(pl.UInt32)


def index_labels(col: str | pl.Expr, periods: list[Period]) -> pl.Expr:
    """Period label of a `period_index` column."""
    expr = pl.col(col) if isinstance(col, str) else col
    return expr.replace_strict({i: p.label for i, p in enumerate(periods)}, return_dtype=pl.String)


def day_starts(first: dt.date, days: int, timezone: str) -> list[dt.datetime] | None:
    """UTC instants at which the local days first, first + 1, ..., first + days begin (days + 1 values).

    Checked against polars' own conversion (the instant is on its day, the microsecond before it on
    the day before), so a day index from these equals the local date; None if a zone ever disagrees.
    """
    tz = zoneinfo.ZoneInfo(timezone)
    dates = [first + dt.timedelta(days=k) for k in range(days + 1)]
    starts = [dt.datetime.combine(d, dt.time(), tz).astimezone(dt.timezone.utc) for d in dates]
    s = pl.Series(starts, dtype=UTC)
    at = s.dt.convert_time_zone(timezone).dt.date().to_list()
    before = (s - dt.timedelta(microseconds=1)).dt.convert_time_zone(timezone).dt.date().to_list()
    if at != dates or before != [d - dt.timedelta(days=1) for d in dates]:
        return None
    return starts


def day_index(us, starts_us):
    """For int64 microsecond timestamps (a numpy array), the k with starts[k] <= t < starts[k + 1]:
    -1 before the first start, len(starts) - 1 from the last on. Plain division when every day has
    24 hours (UTC and fixed offsets), a binary search over the day starts otherwise."""
    import numpy as np

    starts_us = np.asarray(starts_us, dtype=np.int64)
    if len(starts_us) > 1 and np.all(np.diff(starts_us) == DAY_US):
        return np.clip((us - starts_us[0]) // DAY_US, -1, len(starts_us) - 1)
    return np.searchsorted(starts_us, us, side="right") - 1
