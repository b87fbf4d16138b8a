"""Content digests of loaded datasets per value stream, for the incremental build.

Every row gets a 64-bit hash; a value stream's digest is the digest of its rows' hashes in row
order (status changes belong to the value stream of their work item; rows of no value stream count
for a "global" part). A dataset's `RowState` (its row hashes and each row's value stream) is kept
for the next build, which then finds the value streams a changed file touched by comparing row
hashes position by position, and digests those value streams only: grouping ten million rows by
value stream was the largest part of a one-value-stream rebuild at scale.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl


# Each value stream a change touched is found by a pass over every row: past this many, one
# grouping pass is quicker.
MAX_TOUCHED = 16


def _list_digest(h: pl.Series) -> str:
    one = h.implode()
    return f"{one.hash(11)[0]:016x}{one.hash(29)[0]:016x}:{len(h)}"


def _signed(df: pl.DataFrame) -> pl.DataFrame:
    """`df` with, per float column, whether a value is -0.0: polars hashes and compares 0.0 and
    -0.0 alike, which JSON, CSV and the pages write apart."""
    floats = [c for c, t in df.schema.items() if t.is_float()]
    return df.select(pl.all(), *(((pl.col(c) == 0) & (1 / pl.col(c) < 0)).alias(f"\0{i}") for i, c in enumerate(floats))) if floats else df


def row_hashes(df: pl.DataFrame) -> pl.Series:
    """64-bit hashes of the rows (telling -0.0 from 0.0)."""
    return _signed(df).hash_rows(seed=0)


def identical(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """The same schema and values (telling -0.0 from 0.0)."""
    return a.schema == b.schema and _signed(a).equals(_signed(b))


def _stream_codes(name: str, df: pl.DataFrame, frames: dict[str, pl.DataFrame]) -> tuple[pl.Series, list[str]] | None:
    """(the number of each row's value stream, null for none; the value streams in number order),
    or None when the dataset has no notion of one. Rows are grouped on numbers, not text: several
    times faster at 10M rows."""
    def numbered(vs: pl.Series) -> tuple[pl.Series, list[str]]:
        vs = vs.cast(pl.String)
        names = vs.drop_nulls().unique().sort().to_list()
        return vs.cast(pl.Enum(names)).to_physical(), names

    if "value_stream" in df.columns:
        return numbered(df.get_column("value_stream"))
    wi = frames.get("work_items")
    if name == "status_changes" and "item_id" in df.columns and wi is not None and {"id", "value_stream"} <= set(wi.columns):
        # A status change belongs to its work item's value stream. Looked up by 64-bit hashes of
        # the ids (several times faster than by text); when two work items' ids share a hash, by
        # text. A change of no work item may at worst count for one: a needless recompute, never
        # a missed one.
        codes, names = numbered(wi.get_column("value_stream"))
        ids = wi.get_column("id").hash(7)
        if ids.n_unique() == len(ids):
            keys = df.get_column("item_id").hash(7)
            runs = keys.rle().struct.unnest()
            if runs.height * 2 <= len(keys):  # exports list an item's changes together: look up each run once
                return runs.get_column("value").replace_strict(ids, codes, default=None).gather(keys.rle_id()), names
            return keys.replace_strict(ids, codes, default=None), names
        table = pl.DataFrame({"_k": wi.get_column("id"), "c": codes})
        return df.select(pl.col("item_id").alias("_k")).join(table, on="_k", how="left", maintain_order="left").get_column("c"), names
    return None


def _group_digests(keys: pl.Series, h: pl.Series) -> list[tuple[Any, str, int]]:
    """(key, digest of the row hashes `h` of its rows in order, rows) per distinct key."""
    grouped = pl.DataFrame({"k": keys, "h": h}).group_by("k").agg(pl.col("h"))
    rows = grouped.select("k", pl.col("h").hash(11).alias("a"), pl.col("h").hash(29).alias("b"), pl.col("h").list.len().alias("n")).iter_rows()
    return [(k, f"{a:016x}{b:016x}:{n}", n) for k, a, b, n in rows]


def dataset_digests(name: str, df: pl.DataFrame, frames: dict[str, pl.DataFrame]) -> dict:
    """{"per": {value stream: digest of its rows}, "glob": digest of the rows of no value stream
    (or None), "sizes": {value stream: rows}} of one dataset."""
    return full_state(name, df, frames)[0]


@dataclasses.dataclass
class RowState:
    """What the next build needs to update a dataset's digests: its row hashes, each row's value
    stream (a number into `names`; None for a dataset with no notion of one), the work items' id
    hashes (work items only), the digests, and what they were computed with."""
    h: pl.Series
    codes: pl.Series | None
    names: list[str]
    ids: pl.Series | None
    digests: dict
    schema: str
    key: str | None = None  # the load key of the dataset's files
    items_key: str | None = None  # status changes: the load key of the work items the codes came from
    # Of this build only: the state it was updated from; (work items) the id hashes, old and new,
    # of the rows whose id or value stream changed, and whether the id hashes are all distinct.
    prev_key: str | None = None
    changed_ids: pl.Series | None = None
    ids_distinct: bool | None = None


def _digests(h: pl.Series, codes: pl.Series | None, names: list[str]) -> dict:
    out: dict = {"per": {}, "glob": None, "sizes": {}}
    if len(h) == 0:
        return out
    if codes is None:
        out["glob"] = _list_digest(h)
        return out
    for code, d, n in _group_digests(codes, h):
        if code is None:
            out["glob"] = d
        else:
            out["per"][names[code]] = d
            out["sizes"][names[code]] = n
    return out


def _item_ids(name: str, df: pl.DataFrame) -> pl.Series | None:
    return df.get_column("id").hash(7) if name == "work_items" and "id" in df.columns else None


def full_state(name: str, df: pl.DataFrame, frames: dict[str, pl.DataFrame]) -> tuple[dict, RowState]:
    """The digests of one dataset, and its row state, from every row."""
    h = row_hashes(df) if df.height else pl.Series("h", [], dtype=pl.UInt64)
    got = _stream_codes(name, df, frames) if df.height else None
    codes, names = got if got is not None else (None, [])
    if codes is not None:
        codes = codes.cast(pl.UInt32)
    digests = _digests(h, codes, names)
    return digests, RowState(h, codes, names, _item_ids(name, df), digests, str(df.schema))


def _distinct_ids(items: RowState | None, wi: pl.DataFrame) -> pl.Series | None:
    """The 64-bit hashes of the work items' ids when they are all distinct, else None: from
    `items`, the work items' state of this build (hashed already), when it has them."""
    if items is not None and items.ids is not None and len(items.ids) == wi.height:
        if items.ids_distinct is None:
            items.ids_distinct = items.ids.n_unique() == len(items.ids)
        return items.ids if items.ids_distinct else None
    ids = wi.get_column("id").hash(7)
    return ids if ids.n_unique() == len(ids) else None


def _codes_at(name: str, df: pl.DataFrame, frames: dict[str, pl.DataFrame], at: pl.Series, names: list[str],
              items: RowState | None = None) -> tuple[pl.Series, list[str]] | None:
    """The value stream numbers of the rows at positions `at` (new value streams numbered after
    `names`, in name order), as `_stream_codes` assigns them; None when it cannot say. `items`:
    the work items' state of this build, if it has one."""
    if "value_stream" in df.columns:
        streams = df.get_column("value_stream").cast(pl.String).gather(at)
    elif name == "status_changes" and "item_id" in df.columns and "work_items" in frames and {"id", "value_stream"} <= set(frames["work_items"].columns):
        wi = frames["work_items"]
        ids = _distinct_ids(items, wi)
        if ids is None:
            return None  # _stream_codes then looks up by text
        keys = df.get_column("item_id").gather(at).hash(7)
        hit = pl.DataFrame({"k": ids, "vs": wi.get_column("value_stream").cast(pl.String)}).filter(pl.col("k").is_in(keys.unique().implode()))
        streams = keys.replace_strict(hit.get_column("k"), hit.get_column("vs"), default=None, return_dtype=pl.String)
    else:
        return None
    known = set(names)
    names = list(names) + sorted(v for v in streams.drop_nulls().unique().to_list() if v not in known)
    codes = streams.replace_strict(names, list(range(len(names))), default=None, return_dtype=pl.UInt32) if names else pl.Series([None] * len(streams), dtype=pl.UInt32)
    return codes, names


def updated_state(old: RowState, name: str, df: pl.DataFrame, frames: dict[str, pl.DataFrame], items_changed: pl.Series | None,
                  items: RowState | None = None) -> tuple[dict, RowState] | None:
    """`full_state` from the last build's state of the dataset: only the rows whose hash changed in
    place (and, for status changes, the rows of work items that moved: `items_changed`, the id
    hashes, old and new, of work items whose id or value stream changed) are looked at, and only
    the value streams they belong to, before or now, digested again. None when that cannot stand
    for the full pass: rows added or removed, a new schema, many rows changed (the full pass is
    then as quick). `items`: the work items' state of this build, for the status changes."""
    if str(df.schema) != old.schema or df.height != len(old.h) or df.height == 0:
        return None
    h = row_hashes(df)
    at = (h != old.h).arg_true()
    if name == "status_changes":
        if items_changed is None:
            return None
        if len(items_changed):
            at = pl.concat([at, df.get_column("item_id").hash(7).is_in(items_changed.implode()).arg_true()]).unique().sort()
    if len(at) > max(10_000, df.height // 2):
        return None
    ids = _item_ids(name, df)
    if old.codes is None:
        if "value_stream" in df.columns or name == "status_changes":
            return None
        digests = {"per": {}, "glob": _list_digest(h), "sizes": {}}
        return digests, RowState(h, None, [], ids, digests, old.schema, prev_key=old.key)
    got = _codes_at(name, df, frames, at, old.names, items)
    if got is None:
        return None
    new_at, names = got
    codes = old.codes.clone().scatter(at, new_at) if len(at) else old.codes
    old_at = old.codes.gather(at)
    touched = set(old_at.unique().to_list()) | set(new_at.unique().to_list())
    if len(touched) > MAX_TOUCHED:
        return None
    per, sizes, glob = dict(old.digests["per"]), dict(old.digests["sizes"]), old.digests["glob"]
    for code in touched:
        mask = codes.is_null() if code is None else codes == code
        rows = h.filter(mask.fill_null(False))
        if code is None:
            glob = _list_digest(rows) if len(rows) else None
        elif len(rows):
            per[names[code]], sizes[names[code]] = _list_digest(rows), len(rows)
        else:
            per.pop(names[code], None)
            sizes.pop(names[code], None)
    digests = {"per": per, "glob": glob, "sizes": sizes}
    changed_ids = None
    if ids is not None and old.ids is not None and len(old.ids) == len(ids):
        # A status change belongs to its work item's value stream: only work items whose id or value
        # stream changed move theirs (names only grow, so a number means the same stream before and now).
        was, now = old.ids.gather(at), ids.gather(at)
        moved = (was != now) | old_at.ne_missing(new_at)
        changed_ids = pl.concat([was.filter(moved), now.filter(moved)])
    return digests, RowState(h, codes, names, ids, digests, old.schema, prev_key=old.key, changed_ids=changed_ids)
