"""Helpers for connector tests: a project folder with our fixtures copied in as `data/`, and loading one dataset."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import yaml

from flowsite.config import load_config
from flowsite.sources import load_sources

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

VALUE_STREAMS = [
    {"id": "checkout", "name": "Checkout", "match": {"projects": ["CHK", "LIPU", "SHOP"], "labels": ["checkout"], "repos": ["acme/checkout-web", "acme/web-shop"], "services": ["Checkout API", "Payments"]}},
    {"id": "search", "name": "Search", "match": {"projects": ["SRCH"], "repos": ["search-api"], "services": ["Search", "search-oncall"]}},
    {"id": "mobile-app", "name": "Mobile App"},
]


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.timezone.utc)


class Project:
    """A throwaway flowsite project whose data/ folder holds the test fixtures."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copytree(FIXTURES, root / "data", ignore=shutil.ignore_patterns("dbt"))

    def write(self, sources: dict, **settings) -> Path:
        config = {"name": "Connectors", "timezone": "Europe/Berlin", "value_streams": VALUE_STREAMS} | settings | {"sources": sources}
        (self.root / "flowsite.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return self.root

    def load(self, dataset: str, source: dict, **settings) -> tuple[pl.DataFrame, object]:
        """The canonical frame of one dataset (sorted by its first column) and its report."""
        self.write({dataset: source}, **settings)
        loaded = load_sources(load_config(self.root))
        frame = loaded.frames[dataset]
        return frame.sort(frame.columns[0], maintain_order=True), loaded.reports[dataset]


def rows(frame: pl.DataFrame, key: str = "id") -> dict[str, dict]:
    return {r[key]: r for r in frame.iter_rows(named=True)}
