"""The rendered site without a browser: page order, figures, narrative, charts, the Vega bundle and page weight."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from flowsite import build, vega_bundle
from tests.conftest import SAMPLE

MAX_FIRST_LOAD = 300 * 1024


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("render") / "site"
    build(SAMPLE, out=out, version="2026-11")
    return out / "2026-11"


def _read(site: Path, rel: str) -> str:
    return (site / rel).read_text(encoding="utf-8")


def test_scorecard_sections_read_in_business_order(site: Path):
    html = _read(site, "value-streams/checkout/index.html")
    headings = re.findall(r'<h2 id="h-([a-z]+)">', html)
    assert headings == ["outcomes", "flow", "delivery", "culture", "vsm", "narrative"]


def test_every_figure_has_value_period_n_status_and_link(site: Path):
    html = _read(site, "value-streams/checkout/index.html")
    figures = re.findall(r'<article class="figure panel status-([a-z-]+)" data-metric="([^"]+)">(.*?)</article>', html, re.S)
    assert len(figures) >= 10
    for status, metric, body in figures:
        assert re.search(r'<span class="value">[^<]+</span>', body), metric
        assert re.search(r'<p class="figure-meta">(20\d\d-\d\d|whole window) · n = \d+', body), metric
        # Status in words with an icon, never colour alone.
        assert re.search(r'<span class="status status-%s"><span class="icon" aria-hidden="true">.</span> [A-Z][a-z]+' % status, body), metric
        if not metric.startswith("kpi."):
            assert re.search(r'<a href="\.\./\.\./metrics/[a-z_]+/index\.html">', body), metric


def test_narrative_section_lists_pages_that_discuss_the_stream(site: Path):
    checkout = _read(site, "value-streams/checkout/index.html")
    narrative = checkout[checkout.index('id="narrative"'):]
    assert 'href="../../pages/about/index.html"' in narrative and 'href="../../pages/quarter-review/index.html"' in narrative
    # The excerpt shows the embedded figure's value as text, not the shortcode.
    assert "[[" not in narrative and "Checkout now deploys" in narrative
    catalog = _read(site, "value-streams/catalog/index.html")
    assert "No narrative page mentions Catalog &amp; Search yet." in catalog


def test_charts_are_inline_svg_with_a_text_alternative(site: Path):
    html = _read(site, "value-streams/checkout/index.html")
    charts = re.findall(r'<figure class="chart" data-spec="([^"]+)" id="(c[0-9a-f]{10})" aria-label="[^"]+">'
                        r'<div class="chart-svg" role="img" aria-label="([^"]+)"><svg', html)
    assert len(charts) == 5
    for spec, cid, desc in charts:
        assert spec == f"../../charts/{cid}.json" and (site / "charts" / f"{cid}.json").is_file()
        assert len(desc) > 40
    assert html.count("<details><summary>Chart as text</summary>") == 5


def test_overview_cards_have_headline_figures_sparklines_and_tier(site: Path):
    html = _read(site, "index.html")
    cards = re.findall(r'<li class="card panel status-[a-z-]+".*?</li>\n', html, re.S)
    assert len(cards) == 5
    for card in cards:
        assert 4 <= card.count('<div class="hl">') <= 6
        assert card.count('<svg class="spark"') == card.count('<div class="hl">')
        assert "DORA tier" in card and re.search(r"\d+ on track · \d+ at risk · \d+ off track", card)
    # Without JavaScript the status filter still works (radio buttons + CSS); the text filter needs JS.
    assert 'id="show-all" value="all" checked' in html and '<div class="js-controls" hidden>' in html


def test_search_index_covers_streams_metrics_and_pages(site: Path):
    import json

    items = json.loads(_read(site, "search.json"))
    kinds = {i["kind"] for i in items}
    assert {"value stream", "metric", "page"} <= kinds
    assert any(i["title"] == "Payments Platform" and i["url"] == "value-streams/payments/" for i in items)


def test_first_load_of_a_scorecard_stays_under_300_kb(site: Path):
    html = _read(site, "value-streams/checkout/index.html")
    assets = re.findall(r'(?:href|src)="\.\./\.\./(assets/[^"]+)"', html)
    assert {"assets/flowsite.css", "assets/flowsite.js", "assets/theme.js"} <= set(assets)
    assert not any("vega" in a for a in assets), "the Vega bundle must load only on request"
    total = len(html.encode()) + sum((site / a).stat().st_size for a in assets)
    assert total <= MAX_FIRST_LOAD, f"{total / 1024:.0f} KB"


def test_the_vega_bundle_is_shipped_and_csp_safe(site: Path):
    bundle = (site / "assets" / "vega" / "vega-bundle.js").read_bytes()
    assert len(bundle) > 500_000 and b"window.vegaEmbed" in bundle
    # vega-embed switches to Vega's expression interpreter under `ast: true`, which the site script passes.
    assert b"expressionInterpreter" in bundle
    assert "ast: true" in (site / "assets" / "flowsite.js").read_text(encoding="utf-8")


def test_vega_bundle_cache(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FLOWSITE_CACHE_DIR", str(tmp_path / "cache"))
    t = time.perf_counter()
    first = vega_bundle.vega_bundle()
    made = time.perf_counter() - t
    cached = tmp_path / "cache" / "vega" / vega_bundle.cache_key()
    assert cached.read_bytes() == first
    # A second call reads the cache: it never generates again.
    monkeypatch.setattr(vega_bundle, "generate", lambda: pytest.fail("regenerated despite the cache"))
    t = time.perf_counter()
    assert vega_bundle.vega_bundle() == first
    assert time.perf_counter() - t < made
    # Generation is deterministic, so cached and fresh builds are byte-identical.
    monkeypatch.undo()
    monkeypatch.setenv("FLOWSITE_CACHE_DIR", "off")
    assert vega_bundle.vega_bundle() == first
    assert not list((tmp_path / "cache" / "vega").glob(".vega-bundle-*"))
