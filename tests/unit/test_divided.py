"""A value divided by a constant is the same whether its frame has one row or many: polars divides
a one-row column by a constant exactly and a longer one by multiplying with the reciprocal, so a
value stream computed alone (as an incremental build does) could differ in the last bit from the
same value stream computed among others. `divided` gives the longer frame's result at every length."""
from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsite.metrics._frame import divided

CONSTANTS = st.sampled_from([7, 60, 86400, 3_600_000_000, 86_400_000_000])
INTS = st.integers(-(10**15), 10**15)
FLOATS = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.lists(INTS, min_size=2, max_size=40), st.lists(FLOATS, min_size=2, max_size=40)), CONSTANTS)
def test_a_row_divides_alike_alone_and_among_others(values, by):
    whole = pl.DataFrame({"x": values}).select(divided(pl.col("x"), by)).to_series().to_list()
    alone = [pl.DataFrame({"x": [v]}).select(divided(pl.col("x"), by)).item() for v in values]
    assert alone == whole
    # ... and it is what polars' own division gives a longer column, so figures did not move.
    assert whole == pl.DataFrame({"x": values}).select(pl.col("x") / by).to_series().to_list()
