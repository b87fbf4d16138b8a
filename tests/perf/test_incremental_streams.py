"""The per-value-stream incremental build: after some value streams' data changed, only they are
computed and rendered again, and the site is byte-identical to a cold build of the same data."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from flowsite import build
from tests.conftest import tree_digest

PAYMENTS_ITEM = "NW-99999,Story,payments,Late item,2026-09-01T09:00:00Z,2026-09-20T15:00:00Z,,3\n"
CATALOG_ITEM = "NW-99998,Bug,catalog,Late bug,2026-08-03T09:00:00Z,2026-08-04T15:00:00Z,,1\n"


def _build(project: Path, out: Path, **kw):
    stages: list[str] = []
    result = build(project, out=out, progress=lambda stage, message: stages.append(f"{stage}: {message}"), **kw)
    return result, stages


def _append(project: Path, name: str, text: str) -> None:
    path = project / "data" / name
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def _set_profile(project: Path, profile: str) -> None:
    cfg = project / "flowsite.yml"
    cfg.write_text(re.sub(r"^profile: \w+", f"profile: {profile}", cfg.read_text(encoding="utf-8"), flags=re.M), encoding="utf-8")


def _rebuild(project: Path, site: Path, tmp_path: Path, **kw):
    """An incremental rebuild of `site`, checked against a cold build (no cache) over a copy of the site as it was."""
    cold_site = tmp_path / "cold"
    shutil.rmtree(cold_site, ignore_errors=True)
    shutil.copytree(site, cold_site, symlinks=True)
    result, stages = _build(project, site, **kw)
    cold, _ = _build(project, cold_site, cache=False, **kw)
    assert tree_digest(site) == tree_digest(cold_site)
    # The merged figures are the cold ones, row for row, with the same dtypes.
    a, b = result.results, cold.results
    assert a.figures.schema == b.figures.schema and a.figures.equals(b.figures)
    assert sorted(a.drilldown) == sorted(b.drilldown)
    for name, df in b.drilldown.items():
        assert a.drilldown[name].schema == df.schema and a.drilldown[name].equals(df), name
    assert a.exclusions == b.exclusions
    assert (a.daily_wip is None and b.daily_wip is None) or a.daily_wip.equals(b.daily_wip)
    assert a.stream_start == b.stream_start and a.data_start == b.data_start
    return result, stages


@pytest.mark.parametrize("profile", ["flowsite", "devlake", "fourkeys"])
def test_one_stream_changed_is_recomputed_alone_and_identical_to_cold(sample_project: Path, tmp_path: Path, cache_dir: Path, profile: str):
    _set_profile(sample_project, profile)
    site = tmp_path / "site"
    _build(sample_project, site)
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)
    _append(sample_project, "deployments.csv", "d-99999,payments,production,success,2026-09-20T10:00:00Z,2026-09-20T10:20:00Z,abc1234567,false\n")
    _append(sample_project, "changes.csv", "PR-99999,payments,2026-09-18T08:00:00Z,2026-09-19T09:00:00Z,d-99999\n")
    result, stages = _rebuild(sample_project, site, tmp_path)
    assert "metrics: 1 value stream(s) recomputed, the others cached" in stages
    assert "render: reused 4 unchanged scorecard page(s)" in stages


def test_two_streams_changed(sample_project: Path, tmp_path: Path, cache_dir: Path):
    site = tmp_path / "site"
    _build(sample_project, site)
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM + CATALOG_ITEM)
    _append(sample_project, "status_changes.csv", "NW-99998,In Progress,2026-08-03T10:00:00Z\nNW-99998,Done,2026-08-04T15:00:00Z\n")
    result, stages = _rebuild(sample_project, site, tmp_path)
    assert "metrics: 2 value stream(s) recomputed, the others cached" in stages
    assert "render: reused 3 unchanged scorecard page(s)" in stages
    # And again on top of the merged snapshot: one more change to one of them.
    _append(sample_project, "incidents.csv", "INC-99999,catalog,2026-08-05T10:00:00Z,2026-08-05T12:00:00Z,,SEV2\n")
    result, stages = _rebuild(sample_project, site, tmp_path)
    assert "metrics: 1 value stream(s) recomputed, the others cached" in stages


def test_only_the_families_whose_data_changed_are_computed(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    """A value stream whose work items changed gets its flow figures computed again and its DORA
    figures from the snapshot (its deployments, changes and incidents are as they were)."""
    import flowsite.metrics as metrics

    calls: list[tuple[list[str], frozenset | None]] = []
    real = metrics.compute_streams

    def spy(config, clipped, periods, vs_ids, as_of_end, families=None):
        calls.append((list(vs_ids), families))
        return real(config, clipped, periods, vs_ids, as_of_end, families)

    monkeypatch.setattr(metrics, "compute_streams", spy)
    site = tmp_path / "site"
    _build(sample_project, site)
    assert calls == [(calls[0][0], None)]  # a cold build: every family
    calls.clear()
    _append(sample_project, "work_items.csv", CATALOG_ITEM)
    _append(sample_project, "status_changes.csv", "NW-99998,In Progress,2026-08-03T10:00:00Z\nNW-99998,Done,2026-08-04T15:00:00Z\n")
    _, stages = _rebuild(sample_project, site, tmp_path)  # the site is the cold build's, byte for byte
    assert "metrics: 1 value stream(s) recomputed, the others cached" in stages
    incremental = calls[0]
    assert "catalog" in incremental[0] and incremental[1] == frozenset({"flow"})
    calls.clear()
    _append(sample_project, "incidents.csv", "INC-99999,catalog,2026-08-05T10:00:00Z,2026-08-05T12:00:00Z,,SEV2\n")
    _rebuild(sample_project, site, tmp_path)
    assert calls[0][1] == frozenset({"delivery"})
    calls.clear()
    # Both kinds of data of one value stream changed: both families.
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)
    _append(sample_project, "deployments.csv", "d-99999,payments,production,success,2026-09-20T10:00:00Z,2026-09-20T10:20:00Z,abc1234567,false\n")
    _rebuild(sample_project, site, tmp_path)
    assert calls[0][1] == frozenset({"flow", "delivery"})


def test_a_change_that_moves_as_of_computes_everything_and_is_identical(sample_project: Path, tmp_path: Path, cache_dir: Path):
    site = tmp_path / "site"
    first, _ = _build(sample_project, site)
    # The newest timestamp of all data moves: as_of and the periods move for every value stream.
    _append(sample_project, "work_items.csv", "NW-99997,Story,payments,Future item,2026-12-30T09:00:00Z,,,2\n")
    result, stages = _rebuild(sample_project, site, tmp_path)
    assert result.results.as_of != first.results.as_of
    assert "metrics: computed in full" in stages and not any("reused" in s for s in stages)


@pytest.mark.parametrize("damage", ["arrow", "index", "blobs", "pack", "pack+blobs", "missing", "drill-arrow", "drill-missing"])
def test_a_damaged_stream_cache_costs_only_time(sample_project: Path, tmp_path: Path, cache_dir: Path, damage: str):
    """The drill-down frames are read apart from the rest of the snapshot (in the metric stage):
    one of them damaged or gone makes its metrics a miss, its pages still good."""
    site = tmp_path / "site"
    _build(sample_project, site)
    _append(sample_project, "work_items.csv", PAYMENTS_ITEM)
    snapshots = [p for p in (cache_dir / "streams").iterdir() if not p.name.startswith(".")]
    assert snapshots
    for snap in snapshots:
        if damage in ("arrow", "drill-arrow"):
            for f in snap.glob("*.arrow" if damage == "arrow" else "drill-*.arrow"):
                data = bytearray(f.read_bytes())
                data[len(data) // 2] ^= 0xFF  # a flipped byte, same length
                f.write_bytes(bytes(data))
        elif damage == "index":
            (snap / "index.json").write_text("{not json", encoding="utf-8")
        elif damage == "missing":
            for f in snap.glob("*.arrow"):
                f.unlink()
        elif damage == "drill-missing":
            next(snap.glob("drill-*.arrow")).unlink()
        if "pack" in damage:
            data = bytearray((snap / "pages.pack").read_bytes())
            data[len(data) // 2] ^= 0xFF
            (snap / "pages.pack").write_bytes(bytes(data))
    if "blobs" in damage:
        for blob in (cache_dir / "blobs").rglob("*"):
            if blob.is_file():
                blob.write_bytes(b"damaged")
    result, stages = _rebuild(sample_project, site, tmp_path)  # asserts the whole site equals a cold build's
    if damage in ("blobs", "pack", "pack+blobs"):
        assert "metrics: 1 value stream(s) recomputed, the others cached" in stages
    else:
        assert "metrics: computed in full" in stages
    # Unchanged pages come from the pages' pack, else from their blobs; both damaged, none is reused.
    assert any("reused" in s for s in stages) == (damage in ("blobs", "pack", "drill-arrow", "drill-missing"))


def test_a_stream_added_and_one_removed_from_the_config(sample_project: Path, tmp_path: Path, cache_dir: Path):
    site = tmp_path / "site"
    _build(sample_project, site)
    cfg = sample_project / "flowsite.yml"
    text = cfg.read_text(encoding="utf-8")
    start = text.index("  - id: support-tools")
    end = text.index("\nsite:")
    added = "  - id: returns\n    name: Returns\n    description: Return labels and refunds.\n    owners: [Ines Duarte (operations)]\n"
    cfg.write_text(text[:start] + added + text[end:], encoding="utf-8")
    _append(sample_project, "work_items.csv", "NW-99996,Story,returns,First returns item,2026-08-03T09:00:00Z,2026-08-10T15:00:00Z,,3\n")
    _append(sample_project, "deployments.csv", "d-99998,returns,production,success,2026-08-10T10:00:00Z,2026-08-10T10:20:00Z,abc7654321,false\n")
    result, _ = _rebuild(sample_project, site, tmp_path)
    assert [c.id for c in result.model.scorecards] == ["checkout", "catalog", "mobile-app", "payments", "returns"]
    # Back to the first config: the first build's snapshot serves it again (not the newest one,
    # which the build reads ahead while the data loads).
    cfg.write_text(text, encoding="utf-8")
    result, stages = _rebuild(sample_project, site, tmp_path)
    assert any(re.fullmatch(r"metrics: \d value stream\(s\) recomputed, the others cached", s) for s in stages), stages


def test_nothing_changed_but_the_version_reuses_every_stream(sample_project: Path, tmp_path: Path, cache_dir: Path):
    site = tmp_path / "site"
    _build(sample_project, site)
    result, stages = _build(sample_project, site, version="2026-11-rc", aliases=[])
    assert "metrics: 0 value stream(s) recomputed, the others cached" in stages
    cold, _ = _build(sample_project, tmp_path / "cold", cache=False, version="2026-11-rc", aliases=[])
    assert tree_digest(site / "2026-11-rc") == tree_digest(tmp_path / "cold" / "2026-11-rc")
    assert result.results.figures.equals(cold.results.figures) and result.results.exclusions == cold.results.exclusions


def test_merged_blocks_keep_value_stream_order():
    import polars as pl

    from flowsite.incremental import _blocks

    old = pl.DataFrame({"value_stream": ["a", "a", "c", "d"], "x": [2, 1, 4, 5]})
    fresh = pl.DataFrame({"value_stream": ["b", "c", "e"], "x": [9, 8, 7]})
    assert _blocks(old, fresh, {"a", "d"}).rows() == [("a", 2), ("a", 1), ("b", 9), ("c", 8), ("d", 5), ("e", 7)]
    unsorted = pl.DataFrame({"value_stream": ["e", "b"], "x": [7, 9]})
    assert _blocks(old, unsorted, {"a"}).rows() == [("a", 2), ("a", 1), ("b", 9), ("e", 7)]
