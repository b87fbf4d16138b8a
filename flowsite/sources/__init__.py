"""Sources: read each configured dataset into a canonical polars DataFrame.

Readers (files, DuckDB, dbt, PostgreSQL, presets) return raw frames with canonical column names;
`normalize` then types, checks and filters them, reporting every problem by file, row and column.
"""
from __future__ import annotations

from ._model import Datasets, DatasetReport, RawFrame
from .load import load_sources

__all__ = ["Datasets", "DatasetReport", "RawFrame", "load_sources"]
