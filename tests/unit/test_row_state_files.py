"""A row state's columns are written as array files and mapped back into memory: every value comes
back (nulls included), the file is never written through the mapping, and a file that is not the
one signed is refused."""
from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsite.incremental import _NO_STREAM, _mapped_column, _save_column, _sig


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from([pl.UInt32, pl.UInt64]), data=st.data())
def test_a_column_maps_back_as_it_was_written(tmp_path_factory, dtype, data):
    top = _NO_STREAM - 1 if dtype == pl.UInt32 else 2**64 - 1  # a value stream number is never _NO_STREAM
    values = data.draw(st.lists(st.one_of(st.none(), st.integers(0, top)), max_size=50))
    series = pl.Series("c", values, dtype=dtype)
    path = tmp_path_factory.mktemp("state") / "c.npy"
    _save_column(path, series)
    back = _mapped_column(path, _sig(path.stat()), len(values), series.null_count() > 0)
    assert back.dtype == dtype and back.to_list() == values


def test_the_mapping_never_writes_into_the_file(tmp_path: Path):
    path = tmp_path / "h.npy"
    _save_column(path, pl.Series("h", [1, 2, 3], dtype=pl.UInt64))
    before = path.read_bytes()
    mapped = _mapped_column(path, _sig(path.stat()), 3, False)
    changed = mapped.clone().scatter([0], [9])  # polars may reuse a buffer it holds alone
    assert changed.to_list() == [9, 2, 3] and mapped.to_list() == [1, 2, 3]
    assert path.read_bytes() == before


def test_a_file_other_than_the_signed_one_is_refused(tmp_path: Path):
    path = tmp_path / "h.npy"
    _save_column(path, pl.Series("h", [1, 2, 3], dtype=pl.UInt64))
    sig = _sig(path.stat())
    with pytest.raises(ValueError):
        _mapped_column(path, sig, 4, False)  # not the number of rows the state has
    _save_column(path, pl.Series("h", [1, 2, 4, 5], dtype=pl.UInt64))
    with pytest.raises(ValueError):
        _mapped_column(path, sig, 4, False)  # written again since it was signed
    with pytest.raises(TypeError):
        _save_column(tmp_path / "x.npy", pl.Series("x", [1.5]))
