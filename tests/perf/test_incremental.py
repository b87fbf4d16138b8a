"""The incremental build: cached output is byte-identical to a cold build, and only what changed is redone."""
from __future__ import annotations

import json
from pathlib import Path

from flowsite import charts
from tests.perf.conftest import build_stages as _build
from tests.conftest import run_cli, tree_digest


def test_rebuild_with_nothing_changed_reuses_the_build_and_is_identical(sample_project: Path, tmp_path: Path, cache_dir: Path):
    site = tmp_path / "site"
    first = _build(sample_project, site)
    assert not any("reusing" in s for s in first)
    cold = tree_digest(site)
    again = _build(sample_project, site)
    assert any("inputs unchanged: reusing the previous build" in s for s in again)
    assert not any(s.startswith(("metrics", "render")) for s in again)
    assert tree_digest(site) == cold
    # The same build with the cache off publishes the same bytes.
    _build(sample_project, site, cache=False)
    assert tree_digest(site) == cold


def test_one_value_stream_changed_matches_a_cold_build(sample_project: Path, tmp_path: Path, cache_dir: Path):
    site = tmp_path / "site"
    _build(sample_project, site)
    # A late-found payments item: payments' figures and charts change, the other streams' do not.
    wi = sample_project / "data" / "work_items.csv"
    wi.write_text(wi.read_text(encoding="utf-8") + "NW-99999,Story,payments,Late item,2026-09-01T09:00:00Z,2026-09-20T15:00:00Z,,3\n", encoding="utf-8")
    stages = _build(sample_project, site)
    assert not any("reusing" in s for s in stages)
    incremental = tree_digest(site)

    cold_site = tmp_path / "cold"
    r = run_cli("build", sample_project, "--out", cold_site, "--no-cache")
    assert r.exit_code == 0, r.output
    assert incremental == tree_digest(cold_site)


def test_the_cache_can_be_turned_off(sample_project: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FLOWSITE_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    _build(sample_project, tmp_path / "site")
    assert not (tmp_path / "xdg").exists()
    assert not any("reusing" in s for s in _build(sample_project, tmp_path / "site"))


def test_a_damaged_cache_entry_is_a_miss_not_a_failure(sample_project: Path, tmp_path: Path, cache_dir: Path):
    site = tmp_path / "site"
    _build(sample_project, site)
    cold = tree_digest(site)
    blobs = sorted(p for p in (cache_dir / "blobs").rglob("*") if p.is_file())
    for blob in blobs[:3]:
        blob.write_bytes(b"damaged")  # in place: blobs are hard links of published files, so the site is damaged too
    # The same output folder and inputs: the build key matches, so the damaged entry is looked up.
    stages = _build(sample_project, site)
    assert not any("reusing" in s for s in stages)
    assert tree_digest(site) == cold


def test_each_distinct_chart_is_drawn_once_per_version():
    r = charts.ChartRenderer()
    spec = charts.distribution_spec({"feature": 60.0, "defect": 40.0}, {"feature": 0.7}, "Checkout")
    same = charts.distribution_spec({"feature": 60.0, "defect": 40.0}, {"feature": 0.7}, "Checkout")
    other = charts.distribution_spec({"feature": 50.0, "defect": 50.0}, {"feature": 0.7}, "Checkout")
    keys = [r.add(json.dumps(s, sort_keys=True), s) for s in (spec, same, other)]
    assert keys[0] == keys[1] != keys[2] and all(len(k) == 64 for k in keys)
    out = r.svgs()
    assert r.drawn == 2 and out[keys[0]] == charts.to_svg(spec) and out[keys[0]].startswith("<svg")
