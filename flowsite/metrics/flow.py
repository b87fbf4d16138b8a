"""The Flow Framework's five metrics (Kersten, Project to Product): velocity, time, efficiency, load, distribution."""
from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import polars as pl

from ..config import STATUS_CATEGORIES
from ._frame import divided, empty_figures, sort_by_stream, summarise, to_long
from ._counts import count
from .periods import UTC, WINDOW, Period, date_label, day_index, day_starts
from .stats import median_expr, quantile_expr

DAY = 86_400_000_000  # microseconds
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
TYPES = ("feature", "defect", "risk", "debt")


def item_timeline(work_items: pl.DataFrame, status_changes: pl.DataFrame | None, *, history: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per item: start, done_at, canceled_at, active and waiting days.

    With status history, an item starts at its first waiting/active status and is done at the start
    of its final run of done statuses (a reopened item is done when it is done for the last time).
    Without it, started_at (or created_at) and completed_at are used. `history` is
    `status_history(work_items, status_changes)` when the caller already has it.
    """
    items = work_items
    cols = items.columns
    started = pl.col("started_at") if "started_at" in cols else pl.lit(None, dtype=UTC)
    completed = pl.col("completed_at") if "completed_at" in cols else pl.lit(None, dtype=UTC)
    canceled = pl.col("canceled_at") if "canceled_at" in cols else pl.lit(None, dtype=UTC)
    items = items.with_columns(started.alias("_started"), completed.alias("_completed"), canceled.alias("_canceled"))
    if status_changes is None or status_changes.height == 0:
        return items.with_columns(
            pl.coalesce("_started", "created_at").alias("start"),
            pl.col("_completed").alias("done_at"),
            pl.when(pl.col("_completed").is_null()).then(pl.col("_canceled")).alias("canceled_at_"),
            pl.lit(None, dtype=pl.Float64).alias("active_days"),
            pl.lit(None, dtype=pl.Float64).alias("wait_days"),
        ).drop("_started", "_completed", "_canceled").rename({"canceled_at_": "end_canceled"})

    h = status_history(work_items, status_changes) if history is None else history
    n = items.height
    row, at, cat = (h.get_column(c).to_numpy() for c in ("row", "at", "cat"))
    first, last = _run_edges(row)
    # One run of changes per item (sorted by item, then time). Per run: the final category, the
    # last change of any other category, the start of the final run of the final category (its first
    # change after that), and the first waiting/active change. Each is a max or min over the runs
    # (reduceat) and a repeat back onto the changes: no group-by, no join, no sort.
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, len(row)))
    final = cat[last]
    is_final = cat == np.repeat(final, sizes)
    last_other = _run_reduce(np.maximum, np.where(is_final, _MIN, at), starts)
    final_at = _run_reduce(np.minimum, np.where(is_final & (at > np.repeat(last_other, sizes)), at, _MAX), starts)
    sc_start = _run_reduce(np.minimum, np.where((cat == _WAITING) | (cat == _ACTIVE), at, _MAX), starts)
    has_final, has_start = final_at != _MAX, sc_start != _MAX
    final = np.where(has_final, final, _NONE)  # no final run found: the item falls back to its fields
    is_done, is_canceled = final == _DONE, final == _CANCELED
    # Time in each category between start and done (completed items only): each change inside
    # [start, done) lasts until the next change of its item, the last one until done.
    done_rep = np.repeat(np.where(is_done & has_start, final_at, _MIN), sizes)
    inside = np.flatnonzero((at < done_rep) & (at >= np.repeat(sc_start, sizes)))
    in_done = done_rep[inside]
    nxt = at[np.minimum(inside + 1, len(at) - 1)]
    us, in_cat = np.minimum(np.where(last[inside], in_done, nxt), in_done) - at[inside], cat[inside]
    item = row[starts].astype(np.intp)
    run_item = row[inside].astype(np.intp)
    if _group_sums_are_kahan():
        # The same sums as polars' group-by below, item by item in time order, without the group-by.
        days = us.astype(np.float64) * (1.0 / DAY)  # as `divided`
        has_span = np.zeros(n, dtype=bool)
        has_span[run_item] = True
        active = _kahan_sums(run_item, days, in_cat == _ACTIVE, n)
        wait = _kahan_sums(run_item, days, (in_cat == _WAITING) | (in_cat == _NEW), n)
    else:
        spans = (
            pl.DataFrame({"_item": run_item.astype(np.uint32), "_us": us, "_cat": in_cat})
            .with_columns(divided(pl.col("_us"), DAY).alias("_d"))
            .group_by("_item", maintain_order=True)
            .agg(
                pl.col("_d").filter(pl.col("_cat") == _ACTIVE).sum().alias("active_days"),
                pl.col("_d").filter(pl.col("_cat").is_in([_WAITING, _NEW])).sum().alias("wait_days"),
            )
        )
        span_item = spans.get_column("_item").to_numpy()
        active, wait, has_span = _scatter(n, span_item, spans.get_column("active_days").to_numpy()), _scatter(n, span_item, spans.get_column("wait_days").to_numpy()), _scatter(n, span_item, True)
    # Onto the items: arrays indexed by the item's row (as they are when every item has a history,
    # listed in the items' order).
    if len(item) == n and np.array_equal(item, np.arange(n)):
        item = slice(None)
    final_at, sc_start = _scatter(n, item, final_at), _scatter(n, item, sc_start)
    is_done, is_canceled, has_start = _scatter(n, item, is_done), _scatter(n, item, is_canceled), _scatter(n, item, has_start)
    final = _scatter(n, item, final, _NONE)

    def ts(values: np.ndarray, mask: np.ndarray) -> pl.Expr:
        return pl.when(pl.lit(pl.Series(mask))).then(pl.lit(pl.Series(values)).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))

    no_final = pl.lit(pl.Series(final == _NONE))
    done = pl.coalesce(ts(final_at, is_done), pl.when(no_final).then(pl.col("_completed")))
    cancel = pl.coalesce(ts(final_at, is_canceled), pl.when(no_final & pl.col("_completed").is_null()).then(pl.col("_canceled")))
    start = pl.coalesce(ts(sc_start, has_start), "_started", "created_at")
    out = items.with_columns(
        pl.when(pl.lit(pl.Series(has_span))).then(pl.lit(pl.Series(active))).alias("active_days"),
        pl.when(pl.lit(pl.Series(has_span))).then(pl.lit(pl.Series(wait))).alias("wait_days"),
        done.alias("done_at"), cancel.alias("end_canceled"), start.alias("start"),
    )
    out = out.with_columns(pl.min_horizontal("start", pl.col("done_at").fill_null(pl.col("start"))).alias("start"))
    return out.drop("_started", "_completed", "_canceled")


# Category codes of the status history (config allows no other category; _OTHER keeps one apart):
# the order of the loaded frame's category enum, so that its numbers are these codes.
CATEGORY_CODE = {name: code for code, name in enumerate(STATUS_CATEGORIES)}
_NEW, _WAITING, _ACTIVE, _DONE, _CANCELED = range(5)
_OTHER, _NONE = 254, 255
_MIN, _MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max


def status_history(work_items: pl.DataFrame, status_changes: pl.DataFrame) -> pl.DataFrame:
    """The categorised status changes of known items, sorted by item then time: `row` (the item's row
    in work_items, UInt32), `at` (changed_at in microseconds, Int64) and `cat` (category code, UInt8).

    The item id text is matched once, here; after it every step works on small integers, and the
    per-item steps are passes over contiguous runs. Changes of items not in work_items are dropped.
    """
    try:  # the five categories as an enum's codes: a lookup per distinct text, not per row
        cat = status_changes.get_column("category").cast(pl.Enum(list(CATEGORY_CODE))).to_physical().cast(pl.UInt8)
    except pl.exceptions.PolarsError:
        cat = status_changes.get_column("category").replace_strict(CATEGORY_CODE, default=_OTHER, return_dtype=pl.UInt8)
    changes = status_changes.select("item_id", pl.col("changed_at").dt.epoch("us").alias("at"), pl.lit(cat.alias("cat")))
    usable = pl.col("cat").is_not_null() & pl.col("at").is_not_null()
    rows = _item_rows(changes.get_column("item_id"), work_items.get_column("id"))
    if rows is None:  # ids repeat (or their hashes do): the plain join by text
        ids = work_items.lazy().select(pl.col("id").alias("item_id"), pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"))
        h = changes.lazy().filter(usable).join(ids, on="item_id", how="inner", maintain_order="left").select("row", "at", "cat").collect()
    else:
        rows, aligned = rows
        h = changes.select(pl.lit(pl.Series("row", rows)), "at", "cat")
        if not aligned or h.get_column("at").null_count() or h.get_column("cat").null_count():
            h = h.filter(usable & (pl.col("row") >= 0))
        h = h.with_columns(pl.col("row").cast(pl.UInt32))
    row, at = h.get_column("row").to_numpy(), h.get_column("at").to_numpy()
    back = at[1:] < at[:-1]  # a change earlier than the one before it, of the same item: not in order
    back &= row[1:] == row[:-1]
    ordered = not back.any() and bool(np.all(row[1:] >= row[:-1]))
    return h if ordered else h.sort("row", "at")


def _item_rows(item_ids: pl.Series, ids: pl.Series) -> tuple[np.ndarray, bool] | None:
    """(the row in work_items of each change's item (-1: not an item), as the inner join on the id
    text would match them; whether every change has an item and the rows never go down), or None
    when the ids (or their 64-bit hashes) are not unique.

    Consecutive changes of one item are matched once, by the hash of the id, and every match is
    checked against the id text: the same pairs as the join, at a fraction of its cost. When the
    runs list exactly the items, in the items' order (an export of each item's history in turn),
    the text comparison alone is the match.
    """
    if item_ids.dtype != ids.dtype:
        return None
    if len(item_ids) == 0:
        return np.empty(0, dtype=np.int64), True
    item_hash = ids.hash()
    if item_hash.n_unique() != len(ids):
        return None
    runs = item_ids.rechunk().rle()  # (len, value) per run of one item's changes; nulls make runs too
    run_ids, sizes = runs.struct.field("value"), runs.struct.field("len").to_numpy()
    if len(run_ids) == len(ids) and bool((run_ids == ids).fill_null(False).all()):
        return np.repeat(np.arange(len(ids), dtype=np.int64), sizes), True
    runs = pl.DataFrame({"h": run_ids.hash(), "run": pl.int_range(len(run_ids), dtype=pl.UInt32, eager=True)}).join(
        pl.DataFrame({"h": item_hash, "row": pl.int_range(len(ids), dtype=pl.UInt32, eager=True)}), on="h", how="inner")
    same = (run_ids.gather(runs.get_column("run")) == ids.gather(runs.get_column("row"))).fill_null(False)
    runs = runs.filter(same)
    run_row = np.full(len(run_ids), -1, dtype=np.int64)
    run_row[runs.get_column("run").to_numpy()] = runs.get_column("row").to_numpy()
    return np.repeat(run_row, sizes), False


@functools.cache
def _group_sums_are_kahan() -> bool:
    """Whether this polars sums the floats of each group as _kahan_sums does (checked on values
    where plain, pairwise and compensated sums all differ)."""
    values = [0.1, 1e16, 0.3, -1e16, 0.7, 3.0, 1e-3, 2.5e15]
    got = pl.DataFrame({"g": [0] * len(values), "d": values}).group_by("g").agg(pl.col("d").filter(pl.col("d") != 0).sum()).item(0, "d")
    expected = _kahan_sums(np.zeros(len(values), dtype=np.intp), np.array(values), np.ones(len(values), dtype=bool), 1)[0]
    return got == expected


def _kahan_sums(group: np.ndarray, values: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """Per group (0..n-1, `group` non-decreasing), the compensated (Kahan) sum of the kept values in
    their order: polars' group-by sum, bit for bit. A pass per position in the group (the groups'
    first values, then the second values of the groups that have one, and so on), each a few
    vector operations over the groups still going."""
    group, values = group[keep], values[keep]
    total = np.zeros(n)
    if not len(group):
        return total
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    size = np.diff(np.append(first, len(group)))
    s = 0.0 + values[first]  # the first step of the sum: compensation 0, total 0.0 + value
    c = np.zeros(len(first))
    going, k = np.flatnonzero(size > 1), 1
    while len(going):
        x, cg, sg = values[first[going] + k], c[going], s[going]
        y = x - cg
        t = sg + y
        c[going] = (t - sg) - y
        s[going] = t
        k += 1
        going = going[size[going] > k]
    total[group[first]] = s
    return total


def _run_edges(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last): whether each change is its item's first / last (rows sorted by item)."""
    first = np.ones(len(row), dtype=bool)
    first[1:] = row[1:] != row[:-1]
    last = np.ones(len(row), dtype=bool)
    last[:-1] = first[1:]
    return first, last


def _run_reduce(ufunc, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """ufunc (np.maximum, np.minimum) over each run of values beginning at `starts`."""
    return ufunc.reduceat(values, starts) if len(starts) else values[:0]


def _scatter(n: int, rows: np.ndarray | slice, values, fill=None) -> np.ndarray:
    """An array of n items holding `values` at `rows` (fill, or zero/False, elsewhere)."""
    values = np.asarray(values)
    if isinstance(rows, slice) and values.ndim:
        return values
    out = np.zeros(n, dtype=values.dtype) if fill is None else np.full(n, fill, dtype=values.dtype)
    out[rows] = values
    return out


WIP = ("waiting", "active")


def _wip_events(timeline: pl.DataFrame, status_changes: pl.DataFrame | None, history: pl.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(timeline row, at in microseconds, delta) of every move into (+1) or out of (-1) work in progress."""
    parts = []
    n = timeline.height
    with_history = np.zeros(n, dtype=bool)
    if status_changes is not None and status_changes.height:
        h = status_history(timeline, status_changes) if history is None else history
        row, at, cat = (h.get_column(c).to_numpy() for c in ("row", "at", "cat"))
        first, _ = _run_edges(row)
        inside = ((cat == _WAITING) | (cat == _ACTIVE)).astype(np.int32)
        prev = np.zeros_like(inside)
        prev[1:] = inside[:-1]
        delta = inside - np.where(first, 0, prev)  # a new item starts from "not in progress"
        moved = delta != 0
        parts.append((row[moved], at[moved], delta[moved]))
        with_history[row] = True
    # Items without history count from their start to their end (done or canceled).
    rest = timeline.select(
        pl.lit(pl.Series(~with_history)).alias("_rest"),
        pl.col("start").dt.epoch("us").alias("_start"),
        pl.coalesce("done_at", "end_canceled").dt.epoch("us").alias("_end"),
    )
    rest_mask = rest.get_column("_rest").to_numpy()
    for col, delta in (("_start", 1), ("_end", -1)):
        s = rest.get_column(col)
        ok = rest_mask & s.is_not_null().to_numpy()
        idx = np.flatnonzero(ok)
        parts.append((idx, s.fill_null(0).to_numpy()[idx], np.full(len(idx), delta, dtype=np.int32)))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


def _stream_codes(timeline: pl.DataFrame) -> tuple[np.ndarray, list[str | None]]:
    """(code per row, names): value streams numbered in text order, a missing one (None) first."""
    vs = timeline.get_column("value_stream")
    names = vs.drop_nulls().unique().sort().to_list()
    if not names:
        return np.zeros(len(vs), dtype=np.int64), [None]
    codes = vs.cast(pl.Enum(names)).to_physical().cast(pl.Int64).fill_null(-1).to_numpy() + 1
    return codes, [None, *names]


def wip_moves(timeline: pl.DataFrame, status_changes: pl.DataFrame | None, *, history: pl.DataFrame | None = None) -> pl.DataFrame:
    """(value_stream, at, delta): +1 when an item enters work in progress, -1 when it leaves.

    With status history an item is in progress exactly while its category is waiting or active, so
    an item reopened after done counts again only while reopened. Items without history count from
    their start to their end (done or canceled).
    """
    rows, at, delta = _wip_events(timeline, status_changes, history)
    return pl.DataFrame({
        "value_stream": timeline.get_column("value_stream").gather(rows),
        "at": pl.Series(at).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "delta": pl.Series(delta, dtype=pl.Int32),
    })


def daily_wip(timeline: pl.DataFrame, first_day: dt.date, last_day: dt.date, timezone: str, status_changes: pl.DataFrame | None = None, *,
              history: pl.DataFrame | None = None) -> pl.DataFrame:
    """Work in progress at the end of each local day per value stream (see wip_moves).

    A value stream x day grid filled by one weighted count of the moves, then a running sum along
    the days: no cross join, no sort and no window over the rows.
    """
    schema = {"value_stream": pl.String, "day": pl.Date, "wip": pl.Int32}
    days = (last_day - first_day).days + 1
    if days <= 0:
        return pl.DataFrame(schema=schema)
    rows, at, delta = _wip_events(timeline, status_changes, history)
    starts = day_starts(first_day, days, timezone)
    if starts is not None:
        day = day_index(at, [(s - EPOCH) // dt.timedelta(microseconds=1) for s in starts])
    else:  # a zone whose day starts do not check out: each move's local date, one by one
        local = pl.Series(at).cast(pl.Datetime("us")).dt.replace_time_zone("UTC").dt.convert_time_zone(timezone).dt.date()
        day = (local.to_frame("d").select(pl.col("d") - pl.lit(first_day)).to_series()).dt.total_days().to_numpy()
    # Everything before the window folds into its first day, so the running sum starts right.
    day = np.maximum(day, 0)
    keep = day < days
    codes, names = _stream_codes(timeline)
    stream = codes[rows[keep]]
    grid = np.bincount(stream * days + day[keep], weights=delta[keep], minlength=len(names) * days).reshape(len(names), days)
    present = np.flatnonzero(np.bincount(stream, minlength=len(names)))
    wip = np.cumsum(grid[present].astype(np.int64), axis=1)
    return pl.DataFrame({
        "value_stream": pl.Series(names, dtype=pl.String).gather(np.repeat(present, days)),
        "day": pl.Series(pl.date_range(first_day, last_day, "1d", eager=True)).gather(np.tile(np.arange(days), len(present))),
        "wip": pl.Series(wip.ravel(), dtype=pl.Int32),
    }, schema=schema)


def compute(datasets: dict[str, pl.DataFrame], periods: list[Period], period: str, timezone: str, as_of_end: dt.datetime) -> tuple[pl.DataFrame, dict[str, pl.DataFrame], dict[str, dict[str, int]], pl.DataFrame | None]:
    """Returns (figures, drill-down, exclusions, daily WIP frame)."""
    items = datasets.get("work_items")
    if items is None:
        return empty_figures(), {}, {}, None
    sc = datasets.get("status_changes")
    # The status history is matched to items once and shared by the timeline and the daily WIP.
    history = status_history(items, sc) if sc is not None and sc.height else None
    tl = item_timeline(items, sc, history=history)
    tl = tl.with_columns(divided((pl.col("done_at") - pl.col("start")).dt.total_microseconds(), DAY).alias("flow_time_days"))
    done = tl.lazy().filter(pl.col("done_at").is_not_null())  # summarise reads only what the figures use
    has_history = sc is not None and sc.height > 0
    aggs = [
        ("flow_velocity", pl.len(), pl.len()),
        ("flow_time", median_expr("flow_time_days"), pl.len()),
        ("flow_time_p85", quantile_expr("flow_time_days", 0.85), pl.len()),
        ("flow_time_p95", quantile_expr("flow_time_days", 0.95), pl.len()),
    ]
    if has_history:
        span = pl.col("active_days").fill_null(0) + pl.col("wait_days").fill_null(0)
        aggs.append(("flow_efficiency", pl.col("active_days").fill_null(0).sum() / span.sum() * 100, (span > 0).sum()))
    for t in TYPES:
        aggs.append((f"flow_distribution_{t}", (pl.col("type") == t).mean() * 100, pl.len()))
    figures = [summarise(done, "done_at", periods, period, timezone, aggs)]

    first_day = periods[0].start.astimezone(_tz(timezone)).date()
    last_day = min(periods[-1].end - dt.timedelta(microseconds=1), as_of_end).astimezone(_tz(timezone)).date()
    wip = daily_wip(tl, first_day, last_day, timezone, sc, history=history)
    del history
    if wip.height:
        labelled = wip.with_columns(date_label("day", period).alias("period"))
        per = labelled.group_by("value_stream", "period").agg(pl.col("wip").mean().alias("v::flow_load"), pl.len().alias("n::flow_load"))
        whole = labelled.group_by("value_stream").agg(pl.col("wip").mean().alias("v::flow_load"), pl.len().alias("n::flow_load")).with_columns(pl.lit(WINDOW).alias("period"))
        figures.append(to_long(pl.concat([per, whole.select(per.columns)]), ["flow_load"]))

    canceled = count(tl.filter(pl.col("done_at").is_null() & pl.col("end_canceled").is_not_null()))
    open_items = count(tl.filter(pl.col("done_at").is_null() & pl.col("end_canceled").is_null()))
    excluded = {m: {"canceled": canceled, "not completed": open_items} for m in ("flow_velocity", "flow_time", "flow_efficiency")}
    drill = {
        "work_items": sort_by_stream(tl.select(
            "id", "value_stream", "type", "start", "done_at",
            pl.col("flow_time_days").round(3), pl.col("active_days").round(3), pl.col("wait_days").round(3),
        ), "done_at", nulls_last=True)
    }
    return pl.concat(figures, how="vertical_relaxed"), drill, excluded, wip


def _tz(name: str):
    import zoneinfo

    return zoneinfo.ZoneInfo(name)
