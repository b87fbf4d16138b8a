"""Per-value-stream digests updated from the last build's row state: for any edit in place (values
changed, rows moved to another value stream, work items moved, orphan status changes), the updated
digests are those a full pass over every row gives; anything else is refused (a full pass then)."""
from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowsite.digests import full_state, updated_state

STREAMS = ["alpha", "beta", "gamma", "delta"]
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _work_items(draw, n):
    return pl.DataFrame({"id": [f"W-{i}" for i in range(n)], "value_stream": [draw(st.sampled_from(STREAMS + [None])) for _ in range(n)],
                         "flow": [draw(st.sampled_from([0.0, -0.0, 1.5, None])) for _ in range(n)]})


def _status_changes(draw, n_items, n):
    return pl.DataFrame({"item_id": [f"W-{draw(st.integers(0, n_items + 2))}" for _ in range(n)],  # a few of no work item
                         "status": [draw(st.sampled_from(["Open", "Done"])) for _ in range(n)]})


def _edit(draw, df: pl.DataFrame, column: str, values) -> pl.DataFrame:
    """`df` with a few values of `column` replaced in place."""
    if df.height == 0:
        return df
    got = df.get_column(column).to_list()
    for _ in range(draw(st.integers(0, 3))):
        got[draw(st.integers(0, df.height - 1))] = draw(values)
    return df.with_columns(pl.Series(column, got, dtype=df.schema[column]))


def _same(a: dict, b: dict) -> bool:
    return a["per"] == b["per"] and a["glob"] == b["glob"] and a["sizes"] == b["sizes"]


@PROPS
@given(st.data())
def test_updated_digests_are_the_full_passes(data):
    draw = data.draw
    n = draw(st.integers(1, 30))
    wi = _work_items(draw, n)
    sc = _status_changes(draw, n, draw(st.integers(1, 60)))
    wi_digests, wi_state = full_state("work_items", wi, {})
    sc_digests, sc_state = full_state("status_changes", sc, {"work_items": wi})
    wi_state.key, sc_state.items_key, sc_state.key = "wi-1", "wi-1", "sc-1"

    # Work items: values, value streams and ids changed in place.
    wi2 = _edit(draw, _edit(draw, _edit(draw, wi, "flow", st.sampled_from([0.0, -0.0, 2.5, None])), "value_stream", st.sampled_from(STREAMS + [None])),
                "id", st.sampled_from([f"W-{i}" for i in range(n + 2)]))
    if wi2.get_column("id").n_unique() < wi2.height:
        wi2 = wi  # the loader refuses duplicate ids
    got = updated_state(wi_state, "work_items", wi2, {}, None)
    want, _ = full_state("work_items", wi2, {})
    assert got is not None and _same(got[0], want)
    wi2_state = got[1]
    wi2_state.key = "wi-2"

    # Status changes: edited in place, numbered with the new work items.
    sc2 = _edit(draw, _edit(draw, sc, "status", st.sampled_from(["Open", "Done", "Review"])), "item_id", st.sampled_from([f"W-{i}" for i in range(n + 3)]))
    items = wi2_state.changed_ids
    # With the work items' state of this build (its id hashes reused) or without it.
    got = updated_state(sc_state, "status_changes", sc2, {"work_items": wi2}, items, draw(st.sampled_from([None, wi2_state])))
    want, _ = full_state("status_changes", sc2, {"work_items": wi2})
    assert got is not None and _same(got[0], want), (got and got[0], want)
    # The updated state updates again like a full pass.
    sc3 = _edit(draw, sc2, "item_id", st.sampled_from([f"W-{i}" for i in range(n + 3)]))
    again = updated_state(got[1], "status_changes", sc3, {"work_items": wi2}, pl.Series([], dtype=pl.UInt64))
    assert again is not None and _same(again[0], full_state("status_changes", sc3, {"work_items": wi2})[0])


def test_rows_added_or_removed_a_new_schema_or_unknown_work_items_are_refused():
    wi = pl.DataFrame({"id": ["W-1", "W-2"], "value_stream": ["alpha", "beta"]})
    sc = pl.DataFrame({"item_id": ["W-1", "W-2"], "status": ["Open", "Done"]})
    _, wi_state = full_state("work_items", wi, {})
    _, sc_state = full_state("status_changes", sc, {"work_items": wi})
    assert updated_state(wi_state, "work_items", pl.concat([wi, wi.head(1).with_columns(pl.lit("W-3").alias("id"))]), {}, None) is None
    assert updated_state(wi_state, "work_items", wi.head(1), {}, None) is None
    assert updated_state(wi_state, "work_items", wi.with_columns(pl.lit(1).alias("extra")), {}, None) is None
    # Status changes whose work items changed in an unknown way cannot be updated.
    assert updated_state(sc_state, "status_changes", sc, {"work_items": wi}, None) is None
    assert updated_state(sc_state, "status_changes", sc, {"work_items": wi}, pl.Series([], dtype=pl.UInt64)) is not None


def test_changes_touching_many_value_streams_or_most_rows_take_the_full_pass():
    from flowsite.digests import MAX_TOUCHED

    n = MAX_TOUCHED + 2
    wi = pl.DataFrame({"id": [f"W-{i}" for i in range(n)], "value_stream": [f"vs-{i}" for i in range(n)], "flow": [1.0] * n})
    _, state = full_state("work_items", wi, {})
    one = wi.with_columns(pl.when(pl.col("id") == "W-0").then(2.0).otherwise(pl.col("flow")).alias("flow"))
    assert updated_state(state, "work_items", one, {}, None) is not None
    assert updated_state(state, "work_items", wi.with_columns(pl.lit(2.0).alias("flow")), {}, None) is None  # every value stream touched

    big = pl.DataFrame({"id": [f"W-{i}" for i in range(30_000)], "value_stream": ["alpha"] * 30_000, "flow": [1.0] * 30_000})
    _, state = full_state("work_items", big, {})
    tenth = big.with_columns(pl.when(pl.int_range(pl.len()) < 3_000).then(2.0).otherwise(pl.col("flow")).alias("flow"))
    got = updated_state(state, "work_items", tenth, {}, None)
    assert got is not None and _same(got[0], full_state("work_items", tenth, {})[0])
    assert updated_state(state, "work_items", big.with_columns(pl.lit(2.0).alias("flow")), {}, None) is None  # every row


def test_work_items_changed_only_in_other_columns_move_no_status_changes():
    wi = pl.DataFrame({"id": ["W-1", "W-2", "W-3"], "value_stream": ["alpha", "beta", "alpha"], "flow": [1.0, 2.0, 3.0]})
    _, state = full_state("work_items", wi, {})
    flow_only = wi.with_columns(pl.Series("flow", [1.0, 9.0, 3.0]))
    got = updated_state(state, "work_items", flow_only, {}, None)
    assert got is not None and got[1].changed_ids is not None and got[1].changed_ids.len() == 0
    assert set(got[0]["per"]) == set(full_state("work_items", flow_only, {})[0]["per"])

    moved = wi.with_columns(pl.Series("value_stream", ["alpha", "alpha", "alpha"]))
    got = updated_state(state, "work_items", moved, {}, None)
    want = pl.Series(["W-2"]).hash(7)
    assert got is not None and got[1].changed_ids.to_list() == [want[0], want[0]]  # old and new id hash
