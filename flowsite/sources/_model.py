from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ..errors import Problem

ROW = "__row"
FILE = "__file"


@dataclass
class RawFrame:
    """A dataset as read: canonical column names, values not yet typed, plus where each row came from.

    `frame` has the columns `__file` (display path) and `__row` (1-based row number as the user
    sees it in the file: for CSV the header is row 1).
    """

    frame: pl.LazyFrame | pl.DataFrame
    origin: str  # file, glob or table shown in messages
    timezone: str
    date_format: str | None = None


@dataclass
class DatasetReport:
    name: str
    origin: str
    rows_read: int = 0
    rows_used: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None
    value_streams: list[str] = field(default_factory=list)
    unmapped: dict[str, list[str]] = field(default_factory=dict)
    # What the mapping made of the rows kept: column -> value -> count (e.g. type -> {feature: 12}).
    mapped: dict[str, dict[str, int]] = field(default_factory=dict)

    def drop(self, reason: str, count: int) -> None:
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + count


@dataclass
class Datasets:
    """The canonical datasets of one build; a dataset absent from the project is None."""

    frames: dict[str, pl.DataFrame]
    reports: dict[str, DatasetReport]
    warnings: list[Problem] = field(default_factory=list)

    def get(self, name: str) -> pl.DataFrame | None:
        return self.frames.get(name)
