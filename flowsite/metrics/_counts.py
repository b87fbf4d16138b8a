"""Row counts of excluded rows that also know how they split over value streams.

`count(df)` is an int (the total, what reports and pages show) carrying the count per value stream,
so an incremental build can add the counts of unchanged value streams to those it recomputed.
Subtracting two counts subtracts per value stream; any other arithmetic gives a plain int.
"""
from __future__ import annotations

import polars as pl


class Count(int):
    per_stream: dict[str | None, int]

    def __new__(cls, total: int, per_stream: dict[str | None, int]):
        self = super().__new__(cls, total)
        self.per_stream = {k: v for k, v in per_stream.items() if v}
        return self

    def __sub__(self, other):
        if isinstance(other, Count):
            keys = dict.fromkeys([*self.per_stream, *other.per_stream])
            return Count(int(self) - int(other), {k: self.per_stream.get(k, 0) - other.per_stream.get(k, 0) for k in keys})
        return int(self) - other

    def __reduce__(self):
        return (Count, (int(self), self.per_stream))


def count(df: pl.DataFrame) -> Count:
    """The rows of `df`, per value stream (one key None when it has no value_stream column)."""
    if "value_stream" not in df.columns:
        return Count(df.height, {None: df.height})
    return Count(df.height, dict(df.group_by("value_stream").len().iter_rows()))


def counts_by(df: pl.DataFrame, column: str) -> dict[str, Count]:
    """Rows per non-null value of `column` (each a Count), e.g. per exclusion reason."""
    if "value_stream" not in df.columns:
        return {r: Count(n, {None: n}) for r, n in df.group_by(column).len().drop_nulls(column).iter_rows()}
    out: dict[str, dict] = {}
    for r, vs, n in df.filter(pl.col(column).is_not_null()).group_by(column, "value_stream").len().iter_rows():
        out.setdefault(r, {})[vs] = n
    return {r: Count(sum(per.values()), per) for r, per in out.items()}
