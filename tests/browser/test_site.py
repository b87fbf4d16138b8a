"""The built site in real Chromium: clean pages, charts, versions, search, accessibility, no-JS, screenshots."""
from __future__ import annotations

import re

import pytest

from .conftest import SCREENSHOTS

PAGES = {
    "overview": "latest/index.html",
    "scorecard": "latest/value-streams/checkout/index.html",
    "metric": "latest/metrics/flow_time/index.html",
    "narrative": "latest/pages/quarter-review/index.html",
}
MAX_FIRST_LOAD = 300 * 1024


def _lightness(page, selector: str = "body") -> float:
    """Relative luminance (0 black .. 1 white) of an element's background colour."""
    rgb = page.evaluate(f"getComputedStyle(document.querySelector({selector!r})).backgroundColor")
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", rgb)[:3])
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _axe_serious(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", list(PAGES))
def test_page_is_clean_local_and_accessible(open_page, name, scheme):
    page, rec = open_page(PAGES[name], scheme=scheme, idle=True)
    rec.check()
    assert page.locator("h1").count() == 1
    # Every chart is drawn as SVG at build time, before any script runs.
    charts = page.locator("figure.chart")
    if name != "overview":
        assert charts.count() >= 1, "expected at least one chart"
    for i in range(charts.count()):
        assert charts.nth(i).locator(".chart-svg > svg").count() == 1, f"chart {i} has no SVG"
    assert (_lightness(page) < 0.05) if scheme == "dark" else (_lightness(page) > 0.85)
    serious = _axe_serious(page)
    assert not serious, "\n".join(serious)


def test_dark_toggle_overrides_the_system_and_persists(open_page, base_url):
    page, rec = open_page(PAGES["overview"], scheme="light")
    toggle = page.locator("button.theme-toggle")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert toggle.get_attribute("aria-pressed") == "true"
    page.goto(base_url + PAGES["scorecard"])
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert _lightness(page) < 0.05
    assert not _axe_serious(page)
    rec.check()


def test_version_switcher_keeps_the_page(open_page, base_url):
    page, rec = open_page(PAGES["scorecard"])
    select = page.locator("#version-select")
    page.locator("#version-select option").nth(1).wait_for(state="attached")  # filled from versions.json
    assert select.locator("option").all_inner_texts() == ["2026-11 (latest)", "2026-10"]
    with page.expect_navigation():
        select.select_option("2026-10")
    assert page.url == base_url + "2026-10/value-streams/checkout/index.html"
    assert page.locator("h1").inner_text() == "Checkout"
    # An older version shows a banner pointing at the same page in the newest one.
    banner = page.locator(".version-banner")
    banner.wait_for(state="visible")
    assert banner.locator("a").get_attribute("href").endswith("2026-11/value-streams/checkout/index.html")
    rec.check()


def test_version_switcher_falls_back_to_the_overview(open_page, base_url):
    page, rec = open_page(PAGES["narrative"])  # 2026-10 has no quarter-review page
    page.locator("#version-select option").nth(1).wait_for(state="attached")  # filled from versions.json
    with page.expect_navigation():
        page.locator("#version-select").select_option("2026-10")
    assert page.url == base_url + "2026-10/index.html"
    rec.errors = [e for e in rec.errors if "404" not in e]  # the HEAD probe for the missing page
    rec.check()


def test_search_finds_a_value_stream(open_page, base_url):
    page, rec = open_page(PAGES["metric"])
    page.locator("#search-input").fill("payments")
    results = page.locator("#search-results")
    results.wait_for(state="visible")
    first = results.locator("a").first
    assert "Payments Platform" in first.inner_text()
    with page.expect_navigation():
        page.locator("#search-input").press("Enter")
    assert page.url == base_url + "latest/value-streams/payments/"
    assert page.locator("h1").inner_text() == "Payments Platform"
    rec.check()


def test_search_by_owner_and_keyboard(open_page):
    page, rec = open_page(PAGES["overview"])
    page.locator("#search-input").fill("okafor")
    page.locator("#search-results a").first.wait_for()
    page.locator("#search-input").press("ArrowDown")
    assert "Payments Platform" in page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Escape")
    assert page.locator("#search-results").is_hidden()
    rec.check()


def test_overview_filter_and_sort(open_page):
    page, rec = open_page(PAGES["overview"])
    cards = page.locator("#cards > li")
    total = cards.count()
    assert total == 5
    page.locator("#card-filter").fill("okafor")
    assert [c for c in cards.all() if c.is_visible()][0].locator("h3").inner_text() == "Payments Platform"
    assert len([c for c in cards.all() if c.is_visible()]) == 1
    page.locator("#card-filter").fill("")
    page.locator("#card-sort").select_option("name")
    names = [c.locator("h3").inner_text() for c in cards.all()]
    assert names == sorted(names)
    page.locator("#card-sort").select_option("status")
    ranks = {"off-track": 0, "at-risk": 1, "no-target": 2, "on-track": 3}
    statuses = [ranks[c.get_attribute("data-status")] for c in cards.all()]
    assert statuses == sorted(statuses)
    rec.check()


def test_status_filter_works_without_javascript(open_page):
    page, rec = open_page(PAGES["overview"], js=False)
    cards = page.locator("#cards > li")
    assert len([c for c in cards.all() if c.is_visible()]) == 5
    page.locator("label[for='show-off-track']").click()
    visible = [c for c in cards.all() if c.is_visible()]
    assert visible and all(c.get_attribute("data-status") == "off-track" for c in visible)
    assert len(visible) < 5
    rec.check()


def test_scorecard_reads_correctly_without_javascript(open_page):
    page, rec = open_page(PAGES["scorecard"], js=False)
    rec.check()
    headings = [h.inner_text() for h in page.locator("main h2").all()]
    assert headings[:6] == ["Business outcomes", "Flow", "Delivery (DORA)", "Culture", "Value stream map", "Narrative"]
    # Figures say their status in words, with an icon, and link to their metric page.
    fig = page.locator("article.figure[data-metric='flow_time']")
    assert re.search(r"\d+(\.\d+)? days", fig.locator(".value").inner_text())
    assert " ".join(fig.locator(".status").inner_text().split()) in {"✔ On track", "▲ At risk", "✖ Off track"}
    assert "n = " in fig.inner_text() and "target" in fig.inner_text()
    assert fig.locator("a").first.get_attribute("href") == "../../metrics/flow_time/index.html"
    for chart in page.locator("figure.chart").all():
        assert chart.locator("svg").first.is_visible()
    # What needs JavaScript stays out of the way.
    assert page.locator("form.search").is_hidden()
    assert page.locator("button.theme-toggle").is_hidden()
    assert page.locator(".chart-interactive").first.is_hidden()
    assert page.locator("#version-select option").inner_text().startswith("2026-11")


def test_interactive_chart_loads_the_bundle_only_on_request(open_page):
    page, rec = open_page(PAGES["scorecard"])
    assert not [r for r in rec.responses if "vega-bundle" in r.url]
    first = page.locator("figure.chart").first
    with page.expect_response(lambda r: "vega-bundle.js" in r.url):
        first.locator(".chart-interactive").click()
    first.locator(".chart-svg.vega-embed svg").wait_for()
    first.locator(".chart-interactive").wait_for(state="hidden")
    # Tooltips come from Vega's expression interpreter: no CSP violation (no eval) on hover.
    box = first.locator(".chart-svg svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 2)
    page.wait_for_timeout(200)
    rec.check()


def test_interactive_flow_time_chart_has_the_static_charts_bars(open_page):
    # Its spec is binned at build time (a row per bin): Vega draws those rows as the SVG did.
    page, rec = open_page(PAGES["scorecard"])
    fig = page.locator("figure.chart[aria-label^='Flow time distribution']")
    static = fig.locator(".chart-svg rect").count()
    assert static > 3
    fig.locator(".chart-interactive").click()
    fig.locator(".chart-svg.vega-embed svg").wait_for()
    assert fig.locator(".chart-svg.vega-embed g.mark-rect path").count() == static
    rec.check()


def test_first_load_of_a_scorecard_is_light(open_page):
    page, rec = open_page(PAGES["scorecard"], idle=True)
    total = sum(len(r.body()) for r in rec.responses if r.status == 200)
    assert total <= MAX_FIRST_LOAD, f"first load is {total / 1024:.0f} KB"
    assert page.locator("figure.chart svg").count() >= 3


@pytest.mark.parametrize("width", [360, 390])
@pytest.mark.parametrize("name", ["overview", "scorecard", "metric"])
def test_no_horizontal_scrolling_on_a_phone(open_page, name, width):
    page, rec = open_page(PAGES[name], width=width, height=800)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    rec.check()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_print_hides_chrome_and_keeps_charts(open_page, scheme):
    page, rec = open_page(PAGES["scorecard"], scheme=scheme)
    page.emulate_media(media="print")
    assert page.locator(".site-header").is_hidden()
    assert page.locator("figure.chart svg").first.is_visible()
    assert _lightness(page) > 0.99  # paper stays white, even when the screen is dark
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).color") == "rgb(0, 0, 0)"


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("name", ["overview", "scorecard"])
def test_screenshots(open_page, name, width):
    """Written to tests/screenshots/ for reviewers (gitignored)."""
    page, rec = open_page(PAGES[name], width=width, idle=True)
    SCREENSHOTS.mkdir(exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        shot = SCREENSHOTS / f"{name}-{width}-{scheme}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    rec.check()
