"""Each file format, globs, column mappings, time zones, and errors that name file, row and column."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsite.config import load_config
from flowsite.errors import SourceError
from flowsite.sources import load_sources
from tests.conftest import write_project

UTC = dt.timezone.utc
CONFIG = """
name: Acme
timezone: Europe/Berlin
sources:
  deployments:
    path: {path}
    columns: {{id: Deploy ID, finished_at: Finished}}
value_streams:
  - id: web
  - id: api
"""
ROWS = [
    {"Deploy ID": "d1", "value_stream": "web", "Finished": "2026-03-29T01:30:00", "environment": "Production"},  # CET, before the DST switch
    {"Deploy ID": "d2", "value_stream": "api", "Finished": "2026-03-29T03:30:00", "environment": "production"},  # CEST
    {"Deploy ID": "d3", "value_stream": "web", "Finished": "2026-03-30T10:00:00Z", "environment": "staging"},
]
EXPECTED = [dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC), dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC), dt.datetime(2026, 3, 30, 10, 0, tzinfo=UTC)]


def _load(tmp_path: Path, name: str) -> pl.DataFrame:
    write_project(tmp_path, CONFIG.format(path=name))
    ds = load_sources(load_config(tmp_path))
    return ds.frames["deployments"].sort("id")


def test_csv(tmp_path: Path):
    (tmp_path / "d.csv").write_text("Deploy ID,value_stream,Finished,environment\n" + "\n".join(",".join(r.values()) for r in ROWS) + "\n")
    df = _load(tmp_path, "d.csv")
    assert df.get_column("finished_at").to_list() == EXPECTED
    assert df.get_column("environment").to_list() == ["production", "production", "staging"]


def test_ndjson_and_json(tmp_path: Path):
    (tmp_path / "d.ndjson").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    assert _load(tmp_path, "d.ndjson").get_column("finished_at").to_list() == EXPECTED
    (tmp_path / "d.json").write_text(json.dumps({"deployments": ROWS}))
    assert _load(tmp_path, "d.json").get_column("finished_at").to_list() == EXPECTED


def test_parquet_with_typed_timestamps(tmp_path: Path):
    pl.DataFrame({
        "Deploy ID": ["d1", "d2", "d3"], "value_stream": ["web", "api", "web"],
        "Finished": EXPECTED, "environment": ["production"] * 3,
    }).write_parquet(tmp_path / "d.parquet")
    assert _load(tmp_path, "d.parquet").get_column("finished_at").to_list() == EXPECTED


def test_glob_reads_every_file(tmp_path: Path):
    (tmp_path / "exports").mkdir()
    for i, r in enumerate(ROWS):
        (tmp_path / "exports" / f"part-{i}.csv").write_text("Deploy ID,value_stream,Finished\n" + f"{r['Deploy ID']},{r['value_stream']},{r['Finished']}\n")
    assert _load(tmp_path, "exports/*.csv").get_column("id").to_list() == ["d1", "d2", "d3"]


def test_unparseable_value_names_file_row_and_column(tmp_path: Path):
    (tmp_path / "d.csv").write_text("Deploy ID,value_stream,Finished\nd1,web,2026-01-01T10:00:00Z\nd2,web,yesterday\n")
    write_project(tmp_path, CONFIG.format(path="d.csv"))
    with pytest.raises(SourceError) as exc:
        load_sources(load_config(tmp_path))
    text = exc.value.format()
    assert "d.csv: row 3: column 'finished_at': expected a timestamp" in text and "'yesterday'" in text and "date_format" in text


def test_missing_mapped_column_lists_what_the_file_has(tmp_path: Path):
    (tmp_path / "d.csv").write_text("ID,value_stream,Finished\nd1,web,2026-01-01\n")
    write_project(tmp_path, CONFIG.format(path="d.csv"))
    with pytest.raises(SourceError) as exc:
        load_sources(load_config(tmp_path))
    text = exc.value.format()
    assert "expected a column 'Deploy ID' (mapped to 'id')" in text and "the file has: ID, value_stream, Finished" in text


def test_unknown_item_type_is_an_error_with_hint(tmp_path: Path):
    write_project(tmp_path, """
name: Acme
sources:
  work_items: items.csv
""", {"items.csv": "id,type,value_stream,created_at\n1,Story,web,2026-01-01\n2,Spike,web,2026-01-02\n"})
    with pytest.raises(SourceError) as exc:
        load_sources(load_config(tmp_path))
    text = exc.value.format()
    assert "items.csv: row 3: column 'type': expected a flow item type (feature, defect, risk, debt), got 'Spike'" in text
    assert "types: {feature: ['Spike']}" in text


def test_unknown_value_stream_rows_are_dropped_and_counted(tmp_path: Path):
    (tmp_path / "d.csv").write_text("Deploy ID,value_stream,Finished\nd1,web,2026-01-01\nd2,mobile,2026-01-02\n")
    write_project(tmp_path, CONFIG.format(path="d.csv"))
    ds = load_sources(load_config(tmp_path))
    assert ds.frames["deployments"].get_column("id").to_list() == ["d1"]
    assert ds.reports["deployments"].dropped == {"value stream not in flowsite.yml ('mobile')": 1}
    assert "1 row(s) dropped" in ds.warnings[0].format()


def test_date_format_and_source_timezone(tmp_path: Path):
    write_project(tmp_path, """
name: Acme
sources:
  incidents:
    path: inc.csv
    date_format: "%d/%m/%Y %H:%M"
    timezone: America/New_York
""", {"inc.csv": "id,value_stream,created_at,resolved_at\ni1,web,05/01/2026 09:00,05/01/2026 11:30\n"})
    df = load_sources(load_config(tmp_path)).frames["incidents"]
    assert df.row(0, named=True)["created_at"] == dt.datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


WHITESPACE = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\xa0", "\u1680", "\u2000", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
TEXT = st.one_of(st.none(), st.text(st.sampled_from(["a", "Z", "-", "é", "\u200b", *WHITESPACE]), max_size=6))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(TEXT, min_size=1, max_size=8))
def test_a_text_column_skips_cleaning_only_when_cleaning_would_change_nothing(values: list[str | None]):
    """The fast check says a text column needs no cleaning exactly when trimming every value and
    turning empty ones into null would leave it as it is (any Unicode whitespace at either end)."""
    from flowsite.sources._model import RawFrame
    from flowsite.sources.normalize import _coerce, _fast_check

    df = pl.DataFrame({"id": values}, schema={"id": pl.String})
    typed, _ = _coerce(df, "id", RawFrame(frame=df, origin="x.csv", timezone="UTC"))
    cleaned = df.select(typed.alias("id")).get_column("id")
    needs = df.select(_fast_check("id", pl.String).fill_null(False)).item()
    assert needs == (not cleaned.equals(df.get_column("id"), null_equal=True))


STATUS_TEXT = st.one_of(st.none(), st.text(st.sampled_from(["o", "p", "e", "n", "D", *WHITESPACE[:4], "\xa0", "\u3000"]), max_size=5),
                        st.sampled_from(["Open", "Done", " Done", "open\t", ""]))


@settings(max_examples=150, deadline=None)
@given(statuses=st.lists(STATUS_TEXT, min_size=1, max_size=12))
def test_statuses_are_trimmed_mapped_and_counted_whether_clean_or_not(statuses: list[str | None]):
    """Statuses are checked for whitespace per distinct value: clean or not, the loaded statuses,
    their categories, the unmapped ones and the per-category counts are those of trimming each row."""
    from flowsite.sources._model import FILE, ROW, DatasetReport, RawFrame
    from flowsite.sources.normalize import normalize

    config = _status_config()
    n = len(statuses)
    raw = pl.DataFrame({FILE: ["sc.csv"] * n, ROW: list(range(2, n + 2)), "item_id": [f"W-{i}" for i in range(n)],
                        "status": statuses, "changed_at": [dt.datetime(2026, 1, 1, tzinfo=UTC)] * n},
                       schema_overrides={"status": pl.String, ROW: pl.Int64, "changed_at": pl.Datetime("us", "UTC")})
    report = DatasetReport("status_changes", "sc.csv")
    df, errors, _ = normalize("status_changes", RawFrame(frame=raw, origin="sc.csv", timezone="UTC"), config, report)
    assert not errors and df is not None

    trimmed = [None if v is None or not v.strip("".join(WHITESPACE)) else v.strip("".join(WHITESPACE)) for v in statuses]
    kept = [v for v in trimmed if v is not None]  # a status change without a status is dropped
    assert df.get_column("status").to_list() == kept
    want_cats = [config.statuses.get(v.lower()) for v in kept]
    assert df.get_column("category").to_list() == want_cats
    assert report.unmapped.get("status", []) == sorted({v for v, c in zip(kept, want_cats) if c is None})


_CONFIG_CACHE: list = []


def _status_config():
    if not _CONFIG_CACHE:
        import tempfile

        root = Path(tempfile.mkdtemp())
        write_project(root, "name: Acme\nstatuses:\n  new: [Open]\n  done: [Done]\nvalue_streams:\n  - id: web\n")
        _CONFIG_CACHE.append(load_config(root))
    return _CONFIG_CACHE[0]
