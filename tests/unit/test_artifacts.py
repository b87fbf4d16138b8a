"""data/metrics.json: the figure lines written straight from the frame are exactly what json writes
for the figure entries of the document."""
from __future__ import annotations

import dataclasses
import json
import math

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsite.artifacts import _figure_dicts, _figure_lines, csv_bytes, csv_header, dumps_json
from flowsite.metrics import MetricResults

TEXT = st.one_of(st.none(), st.text(max_size=12))
VALUE = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=-1e9, max_value=1e9), st.integers(-10**6, 10**6).map(float))


def _results(rows: list[tuple]) -> MetricResults:
    frame = pl.DataFrame(rows, schema={"value_stream": pl.String, "metric": pl.String, "period": pl.String, "value": pl.Float64, "n": pl.Int64}, orient="row")
    # Only `figures` is read; the other fields are not looked at.
    fields = {f.name: None for f in dataclasses.fields(MetricResults)}
    return MetricResults(**{**fields, "figures": frame})


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT, TEXT, VALUE, st.one_of(st.none(), st.integers(0, 10**9))), max_size=30))
def test_figure_lines_are_the_json_of_the_figure_entries(rows):
    results = _results(rows)
    dicts = _figure_dicts(results)
    expected = [json.dumps(d, sort_keys=True, ensure_ascii=False, allow_nan=False) for d in dicts]
    assert _figure_lines(results) == expected
    assert all(d["value"] is None or math.isfinite(d["value"]) for d in dicts)


def test_dumps_json_takes_encoded_lists_in_key_order():
    doc = {"metadata": {"a": 1}, "scorecards": [{"id": "x"}], "figures": [{"b": 2.5, "a": None}, {"a": "é"}]}
    lines = [json.dumps(v, sort_keys=True, ensure_ascii=False) for v in doc["figures"]]
    assert dumps_json({k: v for k, v in doc.items() if k != "figures"}, {"figures": lines}) == dumps_json(doc)
    empty = {"metadata": {}, "figures": []}
    assert dumps_json({"metadata": {}}, {"figures": []}) == dumps_json(empty)


@settings(max_examples=300)
@given(st.dictionaries(st.text(min_size=1), st.binary(max_size=20), max_size=6), st.text(), st.booleans())
def test_the_manifest_is_what_json_writes_indented(files, version, known):
    # manifest_bytes writes the indented JSON an entry at a time; it must be byte for byte json.dumps's.
    import hashlib

    from flowsite.history import MANIFEST, MANIFEST_SCHEMA, manifest_bytes

    digests = {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()} if known else None
    doc = {"metadata": {"schema_version": MANIFEST_SCHEMA, "version": version},
           "files": [{"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for rel, data in sorted(files.items()) if rel != MANIFEST]}
    assert manifest_bytes(files, version, digests) == (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), max_size=6, unique=True))
def test_the_csv_header_is_the_one_polars_writes(columns):
    frame = pl.DataFrame(schema={c: pl.String for c in columns})
    assert csv_header(columns) == csv_bytes(frame)
