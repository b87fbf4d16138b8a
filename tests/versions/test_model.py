"""The versions.json model: period ordering, name validation, alias rules (no files)."""
from __future__ import annotations

import json
import random

import pytest

from flowsite.errors import VersionError
from flowsite.versioning import Versions, sort_key, validate_name


@pytest.mark.parametrize("older,newer", [
    ("2026-9", "2026-10"), ("2026-09", "2026-10"), ("2025-12", "2026-1"), ("2026-Q2", "2026-Q3"), ("2026-Q4", "2027-Q1"),
    ("2026-09", "2026-Q3"),  # a quarter sorts after its last month
    ("2026-W9", "2026-W10"), ("2026-W52", "2027-W01"), ("2026-10-09", "2026-10-10"),
    ("1.9.0", "1.10.0"), ("v2", "v10"), ("1.2.0-rc1", "1.2.0"), ("1.2.3", "2026-01"), ("zeta", "0.1"),
])
def test_later_periods_sort_higher(older: str, newer: str):
    assert sort_key(older) < sort_key(newer)


def test_versions_json_is_newest_first_by_period_not_string():
    names = ["2026-9", "2026-10", "2026-11", "2026-1", "2025-12"]
    random.Random(1).shuffle(names)
    v = Versions()
    for n in names:
        v.add(n)
    assert [d["version"] for d in json.loads(v.dumps())] == ["2026-11", "2026-10", "2026-9", "2026-1", "2025-12"]


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\\b", "two words", " x", ".hidden", "-x", "assets", "versions.json", "404.html", "tab\tx"])
def test_bad_names_are_refused(bad: str):
    with pytest.raises(VersionError):
        validate_name(bad)


def test_alias_belongs_to_one_version_and_moves_only_when_asked():
    v = Versions()
    v.add("2026-10", aliases=["latest"])
    v.add("2026-11")
    with pytest.raises(VersionError, match="already points to 2026-10"):
        v.set_alias("2026-11", "latest", update_aliases=False)
    assert v.set_alias("2026-11", "latest").version == "2026-10"
    assert v.find("2026-10").aliases == [] and v.find("2026-11").aliases == ["latest"]
    with pytest.raises(VersionError, match="is a version name"):
        v.set_alias("2026-11", "2026-10")
    with pytest.raises(VersionError, match="already an alias"):
        v.add("latest")


def test_mike_format_round_trip(tmp_path):
    raw = [{"version": "2.0", "title": "Two", "aliases": ["latest"], "properties": {"k": 1}}, {"version": "1.0", "title": "1.0", "aliases": []}]
    (tmp_path / "versions.json").write_text(json.dumps(raw, indent=2) + "\n")
    v = Versions.load(tmp_path / "versions.json")
    assert json.loads(v.dumps()) == raw
    (tmp_path / "versions.json").write_text('{"not": "a list"}')
    with pytest.raises(VersionError, match="mike's versions.json format"):
        Versions.load(tmp_path / "versions.json")
