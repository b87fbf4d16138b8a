"""The incremental build's lower caches: drill-down CSVs copied by byte spans, merged value-stream
blocks, the dataset load cache, blobs adopted as hard links of the published files, and staged cache
folders of a build that fails. Each may only ever cost time: the site always ends as a cold build makes it."""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import threading
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowsite._build as build_mod
import flowsite.sources.load as load_mod
from flowsite import digests, incremental
from flowsite.artifacts import csv_bytes
from flowsite.cache import BuildStore
from flowsite.errors import BuildError
from flowsite.incremental import StreamCache, _blocks, _csv_spans, _runs, dataset_digests
from tests.conftest import tree_digest
from tests.perf.test_incremental_streams import CATALOG_ITEM, PAYMENTS_ITEM, _append, _build, _rebuild

PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---- random frames in value-stream blocks ----------------------------------------------------------
STREAMS = ["a", "b-2", "catalog", "checkout", "mobile-app", "payments", "x_9"]
SCHEMA = {"value_stream": pl.String, "value": pl.Float64, "text": pl.String, "n": pl.Int64, "flag": pl.Boolean, "at": pl.Datetime("us", "UTC")}
FLOATS = st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e-300, 5e-324, 1e-7, 0.1, 1 / 3, 2.5, 1e15, 1e16, 123456789.123456, 1e21, -1e300, 1.7976931348623157e308])
PIECES = ["", ",", '"', '""', 'a,"b"', " ", "\r", "\t", ";", "é", "中", "\U0001f600", "null", "NaN"]
TEXTS = (st.none() | st.lists(st.sampled_from(PIECES), max_size=4).map("".join)
         | st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=10)
         | st.integers(0, 3000).map(lambda k: "y" * k))  # long lines: the span search must grow and halve
MICROS = st.none() | st.integers(0, 4_102_444_800_000_000)  # 1970..2100


@st.composite
def rows_of(draw, vs: str | None, big: bool = True) -> list[tuple]:
    """1 to 6 drawn rows of one value stream; `big`: sometimes repeated up to 240 rows (spans of many KB, cheap to draw)."""
    n = draw(st.integers(1, 6))
    rows = [(vs, draw(FLOATS), draw(TEXTS), draw(st.none() | st.integers(-2**63, 2**63 - 1)), draw(st.none() | st.booleans()), draw(MICROS))
            for _ in range(n)]
    return rows * (draw(st.just(1) | st.integers(20, 40)) if big else 1)


def frame(rows: list[tuple]) -> pl.DataFrame:
    df = pl.DataFrame(rows, schema={**SCHEMA, "at": pl.Int64}, orient="row")
    return df.with_columns(pl.col("at").cast(pl.Datetime("us", "UTC")))


@st.composite
def block_frames(draw) -> pl.DataFrame:
    """A frame sorted by value stream (several streams, 1 to 240 rows each), as drill-downs are."""
    names = sorted(draw(st.sets(st.sampled_from(STREAMS), min_size=1, max_size=5)))
    return frame([r for vs in names for r in draw(rows_of(vs))])


def _spans_hold(df: pl.DataFrame) -> None:
    data, header = csv_bytes(df), csv_bytes(df.clear())
    runs = _runs(df)
    assert runs is not None
    spans = _csv_spans(data, len(header), runs)
    assert spans is not None
    assert [vs for vs, _, _ in spans] == [vs for vs, _, _ in runs]
    assert spans[0][1] == len(header) and spans[-1][2] == len(data)
    assert all(a[2] == b[1] for a, b in zip(spans, spans[1:]))  # contiguous
    for (vs, a, b), (_, start, n) in zip(spans, runs):
        assert data[a:b] == csv_bytes(df.slice(start, n), header=False), vs


# ---- _csv_spans ----------------------------------------------------------------------------------
@PROPS
@given(block_frames())
def test_csv_spans_are_the_csv_of_each_value_streams_rows(df: pl.DataFrame):
    """Protects the drill-down CSV reuse: each span is exactly that value stream's header-less CSV."""
    _spans_hold(df)


@PROPS
@given(block_frames(), st.data())
def test_csv_spans_refuse_a_line_break_inside_a_value(df: pl.DataFrame, data):
    """A line break inside a value makes lines and rows differ: no spans (a full write) rather than wrong ones."""
    i = data.draw(st.integers(0, df.height - 1))
    brk = data.draw(st.sampled_from(["\n", "\r\n", "a\nb", '"\n"']))
    text = df.get_column("text").scatter(i, brk)
    df = df.with_columns(text)
    data_bytes, header = csv_bytes(df), csv_bytes(df.clear())
    assert _csv_spans(data_bytes, len(header), _runs(df)) is None


def test_csv_spans_one_row_per_stream():
    """The smallest blocks: one row each, spans still exact."""
    _spans_hold(frame([(vs, 1.5, "x,y", 1, True, 0) for vs in STREAMS]))


# ---- _subset --------------------------------------------------------------------------------------
@PROPS
@given(st.data())
def test_status_changes_narrowed_by_value_stream_number_are_the_rows_of_the_subsets_work_items(data):
    """The status changes of a subset, taken first by the value stream numbers of the row state
    (then by id), are exactly those taken by id alone: in order, orphans included."""
    ids = sorted(data.draw(st.sets(st.sampled_from([f"W-{i}" for i in range(12)]), min_size=1)))  # checked distinct on loading
    wi = pl.DataFrame({"id": ids, "value_stream": [data.draw(st.sampled_from(STREAMS)) for _ in ids]}).sort("value_stream", maintain_order=True)
    items = data.draw(st.lists(st.sampled_from(ids + ["orphan", "W-99"]), max_size=40))
    sc = pl.DataFrame({"item_id": items, "status": ["Done"] * len(items)}, schema={"item_id": pl.String, "status": pl.String})
    frames = {"work_items": wi, "status_changes": sc}
    streams = data.draw(st.sets(st.sampled_from(STREAMS), min_size=1))
    state = digests.full_state("status_changes", sc, frames)[1]
    plain, narrowed = incremental._subset(frames, streams), incremental._subset(frames, streams, state)
    assert (plain is None) == (narrowed is None)
    if plain is not None:
        assert narrowed["status_changes"].equals(plain["status_changes"]) and narrowed["work_items"].equals(plain["work_items"])


# ---- csv_bytes ---------------------------------------------------------------------------------------
@PROPS
@given(st.data())
def test_csv_of_a_frame_is_its_header_and_the_csvs_of_its_slices(data):
    """csv_bytes' contract the span reuse relies on: a row's CSV text depends on that row alone."""
    vs = data.draw(st.sampled_from(STREAMS + [None]))
    df = frame(data.draw(rows_of(vs)))
    text = data.draw(st.lists(st.none() | st.sampled_from(["\n", "a\r\nb", ",\n,", ""]) | TEXTS, min_size=df.height, max_size=df.height))
    df = df.with_columns(pl.Series("text", text, dtype=pl.String))  # here line breaks are fine too
    cuts = sorted(data.draw(st.lists(st.integers(0, df.height), max_size=6)))
    bounds = [0, *cuts, df.height]
    pieces = [csv_bytes(df.slice(a, b - a), header=False) for a, b in zip(bounds, bounds[1:])]
    assert csv_bytes(df.clear()) + b"".join(pieces) == csv_bytes(df)


# ---- _blocks -------------------------------------------------------------------------------------------
@PROPS
@given(st.data())
def test_blocks_merge_like_filter_concat_and_stable_sort(data):
    """Merging kept value streams of the last build with fresh ones gives exactly the rows (and order) a
    filter + concat + stable sort by value stream gives, whatever order either frame comes in."""
    # Each value stream's part: kept from the last build, recomputed, dropped since, new, kept but of no
    # rows in this frame, or absent.
    roles = {vs: data.draw(st.sampled_from(["kept", "recomputed", "dropped", "new", "kept-empty", "absent"])) for vs in STREAMS}
    old_names = {vs for vs, r in roles.items() if r in ("kept", "recomputed", "dropped")}
    kept = {vs for vs, r in roles.items() if r in ("kept", "kept-empty")}
    fresh_names = {vs for vs, r in roles.items() if r in ("recomputed", "new")}

    def rows(names) -> list[tuple]:
        out = [r for vs in sorted(names) for r in data.draw(rows_of(vs, big=False))]
        if out and data.draw(st.booleans()):
            out = data.draw(st.permutations(out))  # not in block order
        return out

    old = frame(rows(old_names)).with_row_index("i")
    fresh = frame(rows(fresh_names)).with_row_index("i", offset=10_000)
    got = _blocks(old, fresh, kept)
    want = pl.concat([old.filter(pl.col("value_stream").is_in(sorted(kept))), fresh]).sort("value_stream", maintain_order=True)
    assert got.schema == old.schema
    assert got["i"].to_list() == want["i"].to_list()  # the same rows (each has its own i), in the same order
    assert got.equals(want)
    assert got.height == 0 or _runs(got) is not None


def test_blocks_refuse_a_value_stream_in_both_frames_and_rows_of_none():
    """What the merge cannot do is an error (a full compute follows), never a wrong frame."""
    old = frame([("a", 1.0, "x", 1, True, 0), ("b", 2.0, "y", 2, False, 0)])
    with pytest.raises(ValueError):
        _blocks(old, frame([("a", 3.0, "z", 3, True, 0)]), {"a"})
    with pytest.raises(ValueError):
        _blocks(old, frame([(None, 3.0, "z", 3, True, 0)]), {"a"})
    with pytest.raises(ValueError):
        _blocks(old, frame([("c", 3.0, "z", 3, True, 0)]).rename({"text": "other"}), {"a"})


# ---- per-stream dataset digests ---------------------------------------------------------------------------
@PROPS
@given(st.data())
def test_a_value_streams_digest_depends_on_its_own_rows_only(data):
    """Which value streams are recomputed: a stream's digest is that of its rows alone (in order), rows
    of no value stream count for the global part, and status changes follow their work item."""
    names = sorted(data.draw(st.sets(st.sampled_from(STREAMS), min_size=1, max_size=4)))
    rows = [r for vs in [*names, None] for r in data.draw(rows_of(vs, big=False))]
    df = frame(data.draw(st.permutations(rows)))
    got = dataset_digests("deployments", df, {})
    for vs in names:
        alone = dataset_digests("deployments", df.filter(pl.col("value_stream") == vs), {})
        assert got["per"][vs] == alone["per"][vs] and got["sizes"][vs] == alone["sizes"][vs]
    assert got["glob"] == dataset_digests("deployments", df.filter(pl.col("value_stream").is_null()), {})["glob"]
    # Status changes have no value stream of their own: their work item's.
    wi = pl.DataFrame({"id": [f"W-{i}" for i in range(df.height)], "value_stream": df.get_column("value_stream")})
    sc = pl.DataFrame({"item_id": [f"W-{i}" for i in range(df.height)], "status": ["Done"] * df.height})
    by_item = dataset_digests("status_changes", sc, {"work_items": wi})
    assert set(by_item["per"]) == set(names)
    for vs in names:
        mine = wi.filter(pl.col("value_stream") == vs).get_column("id")
        alone = dataset_digests("status_changes", sc.filter(pl.col("item_id").is_in(mine.implode())), {"work_items": wi})
        assert by_item["per"][vs] == alone["per"][vs]


@PROPS
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 4)), min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_status_changes_find_their_value_stream_grouped_or_not(items, rnd):
    """Status changes listed item by item (looked up once per run) and shuffled (once per row) get the
    same value stream numbers: their work item's, null for an unknown item."""
    wi = pl.DataFrame({"id": [f"W-{i}" for i in range(25)], "value_stream": [STREAMS[i % len(STREAMS)] if i % 7 else None for i in range(25)]})
    grouped = [f"W-{i}" for i, n in items for _ in range(n)]
    shuffled = list(grouped)
    rnd.shuffle(shuffled)
    lookup = dict(zip(wi.get_column("id"), wi.get_column("value_stream")))
    for ids in (grouped, shuffled):
        sc = pl.DataFrame({"item_id": ids, "status": ["Done"] * len(ids)})
        codes, names = digests._stream_codes("status_changes", sc, {"work_items": wi})
        assert [None if c is None else names[c] for c in codes.to_list()] == [lookup.get(i) for i in ids]


# ---- builds: helpers --------------------------------------------------------------------------------------------
DATASETS = ["changes", "deployments", "incidents", "kpis", "status_changes", "survey_responses", "work_items"]
DROPPED_INCIDENT = "INC-99990,catalog,2026-08-05T10:00:00Z,2026-08-04T12:00:00Z,,SEV2\n"  # resolved before created: dropped


def _copy_site(site: Path, dst: Path) -> Path:
    """The published site as it is now, for a cold build to run over (same versions, same compare page)."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(site, dst, symlinks=True)
    return dst


def _cold(project: Path, site: Path, monkeypatch, empty: Path):
    """A build with an empty cache folder of its own."""
    with monkeypatch.context() as m:
        m.setenv("FLOWSITE_CACHE_DIR", str(empty))
        return _build(project, site)[0]


@pytest.fixture
def normalized(monkeypatch) -> list[str]:
    """Names of the datasets loaded afresh (normalize runs only for datasets not taken from the load cache)."""
    calls: list[str] = []
    real = load_mod.normalize

    def spy(name, *args, **kw):
        calls.append(name)
        return real(name, *args, **kw)

    monkeypatch.setattr(load_mod, "normalize", spy)
    return calls


def _blob(cache_dir: Path, data: bytes) -> Path:
    d = hashlib.sha256(data).hexdigest()
    return cache_dir / "blobs" / d[:2] / d


def _edit_in_place(path: Path, offset: int, patch: bytes) -> None:
    """Change bytes of a file in place: same inode, same size, the mtime set back."""
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(patch)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size


def _can_hard_link(folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    a, b = folder / ".probe-a", folder / ".probe-b"
    a.write_bytes(b"x")
    try:
        os.link(a, b)
    except OSError:
        return False
    finally:
        a.unlink()
        b.unlink(missing_ok=True)
    return True


# ---- the dataset load cache ------------------------------------------------------------------------------------
def test_unchanged_datasets_come_from_the_load_cache_with_their_warnings(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch, normalized):
    """After one dataset file changed, only it is loaded afresh; the site and the data warnings (a dropped
    row in a cached dataset) are exactly those of a cold build with an empty cache."""
    _append(sample_project, "incidents.csv", DROPPED_INCIDENT)
    site = tmp_path / "site"
    first, _ = _build(sample_project, site)
    assert sorted(normalized) == DATASETS
    dropped = [w for w in first.warnings if "row(s) dropped" in w.message and "resolved_at before created_at" in w.message]
    assert len(dropped) == 1

    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)
    cold_site = _copy_site(site, tmp_path / "cold")
    normalized.clear()
    result, stages = _build(sample_project, site)
    assert normalized == ["work_items"]
    assert "metrics: 1 value stream(s) recomputed, the others cached" in stages
    cold = _cold(sample_project, cold_site, monkeypatch, tmp_path / "empty-cache")
    assert sorted(normalized[1:]) == DATASETS  # the cold build loaded every dataset
    assert tree_digest(site) == tree_digest(cold_site)
    assert result.warnings == cold.warnings == first.warnings
    assert result.results.figures.equals(cold.results.figures)


def test_a_dataset_changed_in_two_builds_running_is_not_kept_until_its_files_stay_the_same(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch, normalized):
    """Work items changed in two builds running (an export refreshed for every run): the second
    build's load of them is not written to the load cache, which the next build would not read.
    A build that finds them as the last one did loads them afresh and keeps them again; the
    site is a cold build's throughout."""
    def kept() -> int:
        return len([p for p in (cache_dir / "loads").glob("work_items-*") if (p / "frame.arrow").is_file()])

    site = tmp_path / "site"
    _build(sample_project, site)
    assert kept() == 1
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)
    _build(sample_project, site)
    assert kept() == 2  # changed after a build that found them unchanged: kept
    _append(sample_project, "work_items.csv", CATALOG_ITEM)
    _build(sample_project, site)
    assert kept() == 2  # changed in two builds running: not kept
    for n, item in enumerate((DROPPED_INCIDENT, DROPPED_INCIDENT.replace("INC-", "INC-9"))):
        _append(sample_project, "incidents.csv", item)
        cold_site = _copy_site(site, tmp_path / "cold")
        normalized.clear()
        _build(sample_project, site)
        # The same work items as the last build's: loaded afresh once, then from the cache.
        assert sorted(normalized) == (["incidents", "work_items"] if n == 0 else ["incidents"])
        assert kept() == 3
    _cold(sample_project, cold_site, monkeypatch, tmp_path / "empty-cache")
    assert tree_digest(site) == tree_digest(cold_site)


def test_datasets_loaded_afresh_are_begun_first_largest_first(sample_project: Path, tmp_path: Path, cache_dir: Path):
    """The two loading threads take the datasets to read and normalise first, largest file first,
    then the ones the load cache gives: the longest tasks are not queued behind the cached ones.
    The problems and reports keep the config's order all the same."""
    from flowsite.config import load_config

    config = load_config(sample_project)
    names = list(config.sources)
    size = {n: sum(p.stat().st_size for p in load_mod.expand(config, config.sources[n])) for n in names}
    by_size = sorted(names, key=lambda n: -size[n])
    assert load_mod._longest_first(config, names, None) == by_size

    class Kept:
        def has_loaded(self, config, name, spec):
            return name in kept

    kept = set(by_size[:2])
    order = load_mod._longest_first(config, names, Kept())
    assert order == [n for n in by_size if n not in kept] + [n for n in by_size if n in kept]

    site = tmp_path / "site"
    _build(sample_project, site)
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)
    streams = StreamCache.open(config, site)
    assert [n for n in names if not streams.has_loaded(config, n, config.sources[n])] == ["work_items"]
    loaded = load_mod.load_sources(config, reuse=streams)
    assert list(loaded.reports) == names


def test_a_blob_the_last_entry_lists_is_not_looked_for_and_a_missing_one_costs_a_miss(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    """A build's whole-build entry takes the blobs the entry of the build it replaces lists as there
    (no stat of each). One missing all the same makes an entry that lists it a miss when loaded
    (`BuildStore.load` checks every blob), never a site with a file missing."""
    import json

    import flowsite.cache as cache_mod

    site = tmp_path / "site"
    _build(sample_project, site)
    first = cache_mod.BuildStore().site_record(site)["key"]
    listed = set((cache_dir / "builds" / first / cache_mod.BLOB_LIST).read_text().split())
    looked: list[str] = []
    real = os.path.exists
    monkeypatch.setattr(cache_mod.os.path, "exists", lambda p: looked.append(os.fspath(p)) or real(p))
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)
    _build(sample_project, site)
    monkeypatch.setattr(cache_mod.os.path, "exists", real)
    second = cache_mod.BuildStore().site_record(site)["key"]
    assert second != first
    files = json.loads((cache_dir / "builds" / second / "index.json").read_text())["files"]
    blob_paths = [p for p in looked if f"{os.sep}blobs{os.sep}" in p]
    assert blob_paths and not any(Path(p).name in listed for p in blob_paths)
    assert {Path(p).name for p in blob_paths} == set(files.values()) - listed

    # Blobs both entries list, removed from the cache: the second entry is then a miss when loaded.
    state = json.loads((cache_dir / "builds" / second / "index.json").read_text())["site_states"][0]
    assert cache_mod.BuildStore().load(second, state) is not None
    shared = sorted(set(files.values()) & listed)
    assert shared
    for digest in shared:
        (cache_dir / "blobs" / digest[:2] / digest).unlink()
    assert cache_mod.BuildStore().load(second, state) is None


def _garbage(path: Path) -> None:
    path.write_bytes(b"not an arrow file")


def _garbage_same_size(path: Path) -> None:
    _edit_in_place(path, 0, b"\x00" * path.stat().st_size)


def _column_renamed_same_size(path: Path) -> None:
    """Damage that leaves a readable file: a byte of a column name (as bit rot or a stray write would)."""
    data = path.read_bytes()
    assert b"value_stream" in data
    st = path.stat()
    path.write_bytes(data.replace(b"value_stream", b"valuE_stream"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("damage", [
    _garbage,
    _garbage_same_size,
    _column_renamed_same_size,
], ids=lambda f: f.__name__.strip("_"))
def test_a_damaged_cached_dataset_is_loaded_afresh(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch, normalized, damage):
    """A damaged cached frame is a miss (a fresh load), never a failed build or different output."""
    site = tmp_path / "site"
    _build(sample_project, site)
    entries = list((cache_dir / "loads").glob("incidents-*"))
    assert len(entries) == 1
    damage(entries[0] / "frame.arrow")
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)
    cold_site = _copy_site(site, tmp_path / "cold")
    normalized.clear()
    _build(sample_project, site)
    assert sorted(normalized) == ["incidents", "work_items"]
    _cold(sample_project, cold_site, monkeypatch, tmp_path / "empty-cache")
    assert tree_digest(site) == tree_digest(cold_site)


# ---- drill-down CSV reuse --------------------------------------------------------------------------------------
def test_data_csvs_copy_the_kept_streams_lines_and_match_a_cold_build(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    """After a one-value-stream change, the kept streams' lines of the drill-down CSVs and of
    figures.csv come from the last build's file (only the recomputed streams' rows are written)
    and every data/*.csv is the cold build's, twice in a row."""
    site = tmp_path / "site"
    _build(sample_project, site)
    written: dict[str, list[int]] = {}  # drill-down -> rows of each csv_bytes call made for it
    found: dict[str, bool] = {}
    caches: list[StreamCache] = []
    # The drill-down CSVs are made in a thread begun as the metric stage ends, figures.csv in another.
    current: dict[int, str] = {}
    real_drill, real_figures, real_old, real_csv = StreamCache._drill_csv, StreamCache.figures_csv, StreamCache._old_csv, incremental.csv_bytes

    def drill_csv(self, name, df):
        caches.append(self)
        written[name] = []
        current[threading.get_ident()] = name
        try:
            return real_drill(self, name, df)
        finally:
            del current[threading.get_ident()]

    def figures_csv(self, df):
        written["figures"] = []
        current[threading.get_ident()] = "figures"
        try:
            return real_figures(self, df)
        finally:
            del current[threading.get_ident()]

    def old_csv(self, name):
        got = real_old(self, name)
        found[name] = got is not None
        return got

    def spy_csv(df, **kw):
        if threading.get_ident() in current:
            written[current[threading.get_ident()]].append(df.height)
        return real_csv(df, **kw)

    monkeypatch.setattr(StreamCache, "_drill_csv", drill_csv)
    monkeypatch.setattr(StreamCache, "figures_csv", figures_csv)
    monkeypatch.setattr(StreamCache, "_old_csv", old_csv)
    monkeypatch.setattr(incremental, "csv_bytes", spy_csv)

    for item in (PAYMENTS_ITEM, CATALOG_ITEM):
        _append(sample_project, "work_items.csv", item)
        written.clear()
        found.clear()
        caches.clear()
        result, stages = _rebuild(sample_project, site, tmp_path)  # asserts the whole site equals a cold build's
        assert "metrics: 1 value stream(s) recomputed, the others cached" in stages
        kept = caches[0].kept
        assert kept, "no value stream's rows came from the snapshot"
        assert caches[0]._drills is not None  # begun as the metric stage ended (see begin_drill_csvs)
        drill = result.results.drilldown
        assert set(found) == set(written) == set(drill) | {"figures"} and all(found.values())
        figures = result.results.figures
        # The changed stream's figure lines only: the kept streams' figures hash as before.
        assert 0 < sum(written["figures"]) <= figures.filter(~pl.col("value_stream").is_in(sorted(kept))).height < figures.height, written["figures"]
        for name, df in drill.items():
            fresh_rows = df.filter(~pl.col("value_stream").is_in(sorted(kept))).height
            assert sum(written[name]) <= fresh_rows < df.height, name  # the kept streams' lines were copied
            assert all(n < df.height for n in written[name]), name
        # Recomputed streams whose rows came out the same (the ballast, and the changed stream in the
        # datasets a new work item does not touch) are copied too: only the changed rows are written.
        assert sum(written["work_items"]) and not sum(written["deployments"]) and not sum(written["changes"]), written
        # The snapshot's frames of the datasets the change did not touch came out as they were: copied, not written again.
        assert {"drill-deployments", "drill-changes"} <= caches[0].same_frames and "drill-work_items" not in caches[0].same_frames
        for csv in sorted((site / result.version / "data").glob("*.csv")):
            assert csv.read_bytes() == (tmp_path / "cold" / result.version / "data" / csv.name).read_bytes(), csv.name


# ---- blobs adopted from the published files -------------------------------------------------------------------------
def test_published_files_are_hard_linked_as_their_blobs(sample_project: Path, tmp_path: Path, cache_dir: Path):
    """BuildStore.adopt keeps each written file as the blob of its sha256: a hard link, not a second copy."""
    if not _can_hard_link(tmp_path / "probe"):
        pytest.skip("the file system has no hard links")
    site = tmp_path / "site"
    result, _ = _build(sample_project, site)
    by_digest: dict[str, set[int]] = {}
    vdir = site / result.version
    files = [p for p in sorted(vdir.rglob("*")) if p.is_file() and not p.is_symlink()]
    assert len(files) == len(result.files)
    for p in files:
        by_digest.setdefault(hashlib.sha256(p.read_bytes()).hexdigest(), set()).add(p.stat().st_ino)
    for digest, inodes in by_digest.items():
        blob = cache_dir / "blobs" / digest[:2] / digest
        assert blob.is_file(), digest
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest
        assert blob.stat().st_ino in inodes, f"blob {digest} is a copy, not a link of the published file"


def test_adopt_keeps_an_existing_blob_and_tolerates_a_missing_file(tmp_path: Path, cache_dir: Path):
    """A second file of the same digest, or a file gone, never replaces or breaks the blob."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    digest = hashlib.sha256(b"same").hexdigest()
    store = BuildStore()
    store.adopt(a, digest)
    store.adopt(b, digest)
    store.adopt(tmp_path / "missing.txt", "00" + digest[2:])
    blob = cache_dir / "blobs" / digest[:2] / digest
    assert blob.read_bytes() == b"same" and blob.stat().st_ino == a.stat().st_ino
    assert not (cache_dir / "blobs" / "00").exists() or not any((cache_dir / "blobs" / "00").iterdir())


@pytest.mark.parametrize("rel", [
    "index.html",
    "value-streams/mobile-app/index.html",  # a scorecard page the per-value-stream cache reuses
    "data/incidents.csv",  # its value streams' lines are copied into the next build's CSV
])
def test_an_altered_blob_is_a_miss_never_published(sample_project: Path, tmp_path: Path, cache_dir: Path, rel: str):
    """A blob changed in place (the published file it is linked to, same size, mtime set back) makes the
    next build miss it: the site ends exactly as the cold build made it."""
    site = tmp_path / "site"
    result, _ = _build(sample_project, site)
    cold = tree_digest(site)
    published = site / result.version / rel
    blob = _blob(cache_dir, published.read_bytes())
    assert blob.is_file()
    _edit_in_place(blob, blob.stat().st_size - 8, b"TAMPERED")
    assert tree_digest(site) != cold or not _can_hard_link(tmp_path / "probe")  # the published file is that blob
    _, stages = _build(sample_project, site)
    assert not any("site is up to date" in s or "reusing the previous build" in s for s in stages)
    assert tree_digest(site) == cold


# ---- a build that fails while publishing --------------------------------------------------------------------------
def test_a_failed_publish_leaves_no_staged_cache_folders_and_the_site_intact(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    """A write that fails after the cache thread staged its folders: they are removed, the published site
    is untouched, and the next build still ends as a cold build."""
    site = tmp_path / "site"
    _build(sample_project, site)
    before = tree_digest(site)
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)

    staged = {"streams": threading.Event(), "builds": threading.Event()}
    writes: list[Path] = []
    real_write = build_mod.write_bytes

    def staged_then(event: threading.Event, real):
        def stage(self, *args, **kwargs):
            try:
                return real(self, *args, **kwargs)
            finally:
                event.set()
        return stage

    def failing_write(path: Path, data: bytes) -> None:
        # Wait (no sleep) until both caches staged their temporary folders, then fail a few files in.
        assert all(e.wait(60) for e in staged.values())
        assert list((cache_dir / "streams").glob(".tmp-*")) and list((cache_dir / "builds").glob(".tmp-*"))
        writes.append(path)
        if len(writes) == 5:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data)

    with monkeypatch.context() as m:
        m.setattr(StreamCache, "stage", staged_then(staged["streams"], StreamCache.stage))
        m.setattr(BuildStore, "stage", staged_then(staged["builds"], BuildStore.stage))
        m.setattr(build_mod, "write_bytes", failing_write)
        with pytest.raises(BuildError, match="No space left on device"):
            _build(sample_project, site)
    assert len(writes) == 5
    assert sorted(str(p.relative_to(cache_dir)) for p in cache_dir.rglob(".tmp-*")) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith((".flowsite-staging-", ".flowsite-old-"))] == []
    assert tree_digest(site) == before
    _rebuild(sample_project, site, tmp_path)


def _watch_rows(monkeypatch) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(rendered, kept): the (macro, value stream) of every row piece of the pages that span value
    streams that a build renders afresh or takes from the snapshot's fragment pack."""
    from flowsite.render import Renderer

    rendered: list[tuple[str, str]] = []
    kept: list[tuple[str, str]] = []
    real_piece, real_lookup = Renderer._piece, StreamCache.fragment
    current: list[tuple[str, str]] = []

    def piece(self, name, card, *args):
        current.append((name, card.id))
        try:
            return real_piece(self, name, card, *args)
        finally:
            current.pop()

    def lookup(self, key):
        got = real_lookup(self, key)
        (kept if got is not None else rendered).append(current[-1])
        return got

    monkeypatch.setattr(Renderer, "_piece", piece)
    monkeypatch.setattr(StreamCache, "fragment", lookup)
    return rendered, kept


def test_the_rows_of_kept_value_streams_on_the_metric_pages_and_overview_come_from_the_last_build(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    """Only the changed value stream's rows of the pages that span value streams are rendered again;
    the others' come from the snapshot's fragment pack, and the site is the cold build's."""
    site = tmp_path / "site"
    _build(sample_project, site)
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)
    rendered, kept = _watch_rows(monkeypatch)
    _rebuild(sample_project, site, tmp_path)  # asserts the whole site equals a cold build's
    assert {vs for _, vs in rendered} == {"payments"}
    assert {name for name, _ in kept} == {"metric_row", "overview_card"}
    assert "payments" not in {vs for _, vs in kept} and len({vs for _, vs in kept}) == 4

    # A damaged pack is a miss: every row is rendered, the site is still the cold build's.
    for pack in (cache_dir / "streams").glob("*/fragments.pack"):
        pack.write_bytes(b"damaged" + pack.read_bytes()[7:])
    _append(sample_project, "work_items.csv", CATALOG_ITEM)
    kept.clear()
    rendered.clear()
    _rebuild(sample_project, site, tmp_path)
    assert kept == [] and {vs for _, vs in rendered} >= {"catalog", "payments"}


def test_the_compare_pages_rows_of_kept_value_streams_come_from_the_last_build(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    """On a site with an earlier version, the compare page's tables are rendered again only for the
    changed value stream; an earlier version's document edited since makes them all new. The site
    is a cold build's each time."""
    site = tmp_path / "site"
    late = "NW-9999{n},Story,{vs},Late item,2026-11-02T09:00:00Z,2026-11-25T15:00:00Z,,3\n"  # moves the last month's figures
    _build(sample_project, site, version="v1")
    _append(sample_project, "work_items.csv", late.format(n=1, vs="catalog"))
    _build(sample_project, site, version="v2")
    _append(sample_project, "work_items.csv", late.format(n=2, vs="payments"))
    rendered, kept = _watch_rows(monkeypatch)
    _rebuild(sample_project, site, tmp_path, version="v2")  # asserts the whole site equals a cold build's
    others = {"catalog", "checkout", "mobile-app", "support-tools"}
    assert {vs for name, vs in rendered if name in ("trend_rows", "change_rows")} == {"payments"}
    assert {vs for name, vs in kept if name == "trend_rows"} == others
    assert {vs for name, vs in kept if name == "change_rows"} == {"catalog"} and ("change_rows", "payments") in rendered
    page = (site / "v2" / "compare" / "index.html").read_text(encoding="utf-8")
    assert "Across releases" in page and page.count('<tr><th scope="row"><a href="../value-streams/') >= 2

    # The earlier version's document as the trends read it changes: no row is kept.
    doc = site / "v1" / "data" / "metrics.json"
    doc.write_text(doc.read_text(encoding="utf-8").replace('"value": ', '"value": 1', 1), encoding="utf-8")
    _append(sample_project, "work_items.csv", late.format(n=3, vs="payments"))
    kept.clear()
    rendered.clear()
    _rebuild(sample_project, site, tmp_path, version="v2")
    assert not [k for k in kept if k[0] in ("trend_rows", "change_rows")]
    assert {vs for name, vs in rendered if name == "trend_rows"} == others | {"payments"}


def test_kept_things_made_from_a_value_streams_rows_come_from_the_last_build(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    """After a new work item of one value stream: the other value streams' scorecards, badges, figure
    lines and scorecard entries of data/metrics.json, and the metric pages' charts whose rows did not change (the DORA ones),
    come from the snapshot's packs; the site is the cold build's. Damaged packs are misses."""
    from flowsite.render import Renderer

    site = tmp_path / "site"
    _build(sample_project, site)
    made: dict[str, list[str]] = {"card": [], "chart": [], "lines": [], "badges": [], "json": []}  # made afresh by the incremental build
    real_cards, real_chart, real_block, real_files, real_json = StreamCache.scorecards, Renderer.keyed_chart, StreamCache.figure_block, StreamCache.card_files, StreamCache.card_json

    def counted(kind, what, make):
        def run():
            made[kind].append(what)
            return make()
        return run

    def cards(self, results):
        reuse = real_cards(self, results)
        return None if reuse is None else (lambda vs, make: reuse(vs, counted("card", vs, make)))

    def chart(self, name, rows, parts, make, root, **kw):
        return real_chart(self, name, rows, parts, make if self.reuse is None else counted("chart", parts[0], make), root, **kw)

    def block(self, vs, make):
        return real_block(self, vs, counted("lines", vs, make))

    def badges(self, card, make):
        return real_files(self, card, counted("badges", card.id, make))

    def entry(self, card, make):
        return real_json(self, card, counted("json", card.id, make))

    monkeypatch.setattr(StreamCache, "scorecards", cards)
    monkeypatch.setattr(StreamCache, "card_json", entry)
    monkeypatch.setattr(StreamCache, "card_files", badges)
    monkeypatch.setattr(Renderer, "keyed_chart", chart)
    monkeypatch.setattr(StreamCache, "figure_block", block)
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)
    for k in made:
        made[k].clear()
    _rebuild(sample_project, site, tmp_path)  # asserts the whole site equals a cold build's
    assert set(made["card"]) == set(made["lines"]) == set(made["badges"]) == set(made["json"]) == {"payments"}
    assert made["chart"] and "Deployment frequency" not in made["chart"] and "Flow velocity" in made["chart"], made["chart"]

    for name in ("cards", "charts", "figures", "card-files", "card-json"):
        for pack in (cache_dir / "streams").glob(f"*/{name}.pack"):
            pack.write_bytes(b"damaged" + pack.read_bytes()[7:])
    _append(sample_project, "work_items.csv", CATALOG_ITEM)
    for k in made:
        made[k].clear()
    _rebuild(sample_project, site, tmp_path)
    assert len(set(made["card"])) == len(set(made["lines"])) == len(set(made["badges"])) == len(set(made["json"])) == 5 and "Deployment frequency" in made["chart"]


def _shift_one_item(project: Path, stream: str) -> str:
    """Move one resolved work item of `stream` an hour later, in place: its row and its last status change."""
    wi = project / "data" / "work_items.csv"
    lines = wi.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        cells = line.split(",")
        if len(cells) > 5 and cells[2] == stream and cells[5].endswith("Z"):
            key, done = cells[0], cells[5]
            later = done[:11] + f"{(int(done[11:13]) + 1) % 24:02d}" + done[13:]
            cells[5] = later
            lines[i] = ",".join(cells)
            break
    wi.write_text("".join(lines), encoding="utf-8")
    sc = project / "data" / "status_changes.csv"
    text = sc.read_text(encoding="utf-8")
    sc.write_text(text.replace(f"{key},Done,{done}", f"{key},Done,{later}"), encoding="utf-8")
    return key


def test_digests_of_datasets_edited_in_place_are_updated_from_the_row_state(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    """A work item edited in place (no row added or removed) is found by comparing row hashes with the
    last build's row state: only its value stream is digested again and recomputed, and the site is
    the cold build's. A damaged row state means a full pass, with the same result."""
    from flowsite import digests as digests_mod

    site = tmp_path / "site"
    _build(sample_project, site)
    used: list[tuple[str, bool]] = []
    real = digests_mod.updated_state

    def spy(old, name, *a):
        got = real(old, name, *a)
        used.append((name, got is not None))
        return got

    monkeypatch.setattr(incremental, "updated_state", spy)
    _shift_one_item(sample_project, "payments")
    result, stages = _rebuild(sample_project, site, tmp_path)  # asserts the whole site equals a cold build's
    assert "metrics: 1 value stream(s) recomputed, the others cached" in stages
    assert ("work_items", True) in used and ("status_changes", True) in used, used

    states = list((cache_dir / "loads").glob("*.rows/*.npy"))
    assert states
    for state in states:
        state.write_bytes(b"damaged" + state.read_bytes()[7:])
    used.clear()
    _shift_one_item(sample_project, "catalog")
    result, stages = _rebuild(sample_project, site, tmp_path)
    assert "metrics: 1 value stream(s) recomputed, the others cached" in stages
    assert used == [], used  # no state to update from: full passes


def test_pruning_keeps_every_blob_the_kept_entries_list(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    """Pruning reads each entry's blob list (not its index): after more builds than are kept, every
    blob a kept whole-build entry or snapshot names in its index is still there, and no other is."""
    import json

    import flowsite.cache as cache_mod

    monkeypatch.setattr(cache_mod, "KEEP_BUILDS", 2)
    monkeypatch.setattr(incremental, "KEEP_BUILDS", 2)
    site = tmp_path / "site"
    _build(sample_project, site)
    for item in (PAYMENTS_ITEM, CATALOG_ITEM, PAYMENTS_ITEM.replace("99", "98")):
        _append(sample_project, "work_items.csv", item)
        _build(sample_project, site)
    builds = [p for p in (cache_dir / "builds").iterdir() if p.is_dir() and not p.name.startswith(".")]
    snaps = [p for p in (cache_dir / "streams").iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(builds) == 2 and 1 <= len(snaps) <= 2
    named: set[str] = set()
    for b in builds:
        files = set(json.loads((b / "index.json").read_text())["files"].values())
        assert set((b / cache_mod.BLOB_LIST).read_text().split()) == files
        named |= files
    for snap in snaps:
        listed = set((snap / cache_mod.BLOB_LIST).read_text().split())
        assert listed == incremental._index_blobs(json.loads((snap / "index.json").read_text()))
        named |= listed
    present = {p.name for p in (cache_dir / "blobs").glob("*/*")}
    assert named <= present and present <= named


def test_the_snapshot_read_ahead_is_used_only_when_it_is_the_builds(cache_dir: Path):
    """The newest snapshot is read while the data loads; a build whose context turns out to be
    another one's reads that one instead."""
    import json
    import time

    for context, page in (("older", "a"), ("newer", "b")):
        entry = cache_dir / "streams" / context
        entry.mkdir(parents=True)
        (entry / "index.json").write_text(json.dumps({"pages": {page: {}}}), encoding="utf-8")
        os.utime(entry, ns=(time.time_ns(), time.time_ns() + (10**9 if context == "newer" else 0)))
    (cache_dir / "streams" / ".tmp-unfinished").mkdir()

    guessed = StreamCache("static")
    guessed._prefetch()
    assert guessed._prefetched is not None and guessed._prefetched[0] == "newer"
    assert guessed._snapshot("newer")["pages"] == {"b": {}}

    other = StreamCache("static")
    other._prefetch()
    assert other._snapshot("older")["pages"] == {"a": {}}
    assert StreamCache("static")._snapshot("missing") is None


def test_the_cycle_collector_is_off_while_a_build_runs_and_back_as_it_was_after(sample_project: Path, tmp_path: Path, cache_dir: Path):
    import gc

    seen: list[bool] = []
    assert gc.isenabled()
    build_mod.build(sample_project, out=tmp_path / "site", progress=lambda stage, message: seen.append(gc.isenabled()))
    assert seen and not any(seen) and gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(Exception):
            build_mod.build(tmp_path / "no-such-project", out=tmp_path / "site2")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_threads_hand_over_quickly_while_a_build_runs_and_as_before_after(sample_project: Path, tmp_path: Path, cache_dir: Path):
    import sys

    before = sys.getswitchinterval()
    seen: list[float] = []
    build_mod.build(sample_project, out=tmp_path / "site", progress=lambda stage, message: seen.append(sys.getswitchinterval()))
    assert seen and all(s == build_mod.SWITCH_SECONDS < before for s in seen)
    assert sys.getswitchinterval() == before
    with pytest.raises(Exception):
        build_mod.build(tmp_path / "no-such-project", out=tmp_path / "site2")
    assert sys.getswitchinterval() == before


def test_a_rebuild_whose_data_files_fail_in_their_thread_fails_and_leaves_the_site(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    """A rebuild makes its data files in a thread beside the pages: an error there is the build's
    error, raised once the pages are done, and the published site is left as it was."""
    site = tmp_path / "site"
    _build(sample_project, site)
    before = tree_digest(site)
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)
    threads: list[str] = []

    def broken(*args, **kwargs):
        threads.append(threading.current_thread().name)
        raise RuntimeError("no data files today")

    monkeypatch.setattr(build_mod, "data_files", broken)
    with pytest.raises(RuntimeError, match="no data files today"):
        _build(sample_project, site)
    assert threads and threads[0] != threading.main_thread().name
    assert tree_digest(site) == before
