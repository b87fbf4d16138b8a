"""A hostile build in real Chromium: no dialog opens, no injected script runs, the CSP is never violated.

Hostile strings go into every name, owner, KPI, page and version title of a tiny project. The test
visits each page, types a payload into the search box, opens the interactive charts (the Vega
bundle, with tooltips) and hovers over them. Skipped with a reason when /usr/bin/chromium is absent.
"""
from __future__ import annotations

import copy
import functools
import http.server
import threading
from pathlib import Path

import pytest

from flowsite._build import build
from tests.bad_inputs.tiny import CONFIG, write_tiny
from tests.chromium import in_own_thread, launch, missing_reason


# Each payload, if it ever ran, would open a dialog or set window.__pwned.
XSS = [
    "<script>window.__pwned='script';alert('script')</script>",
    "\"><img src=x onerror=\"window.__pwned='img';alert('img')\">",
    "'><svg onload=\"window.__pwned='svg';alert('svg')\">",
    "<iframe srcdoc=\"<script>parent.alert('iframe')</script>\"></iframe>",
    "javascript:alert('href')",
    "{{ 'ZZ' ~ 'EVAL' }}<details open ontoggle=alert('toggle')>",
]


pytestmark = [pytest.mark.browser, pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")]


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("xss-browser")
    c = copy.deepcopy(CONFIG)
    c["name"] = XSS[0]
    c["description"] = XSS[1]
    c["site"]["title"] = XSS[2] + " scorecards"
    shop = c["value_streams"][0]
    shop.update(name="Shop " + XSS[1], description=XSS[3], owners=[XSS[0], XSS[4]])
    shop["kpis"][0].update(name="Conversion " + XSS[2], unit=XSS[5], description=XSS[0])
    c["value_streams"][1]["name"] = "App " + XSS[0]
    page = "---\ntitle: \"About <img src=x onerror=alert('title')>\"\n---\n# " + XSS[1] + "\n\n" + "\n\n".join(XSS) + "\n\n[click](javascript:alert('md'))\n\n[[chart shop conversion]]\n"
    project = write_tiny(root / "project", c, {"pages/about.md": page})
    out = root / "site"
    build(project, out=out, version="2026-08", title=XSS[0])
    build(project, out=out, version="2026-09", title=XSS[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def test_hostile_site_runs_no_injected_script(hostile_site: str):
    in_own_thread(lambda: _visit_hostile_site(hostile_site))


def _visit_hostile_site(hostile_site: str) -> None:
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            ctx = browser.new_context(service_workers="block")
            ctx.add_init_script(WATCH)
            # Nothing may leave the local server (an injected <img> or iframe would try).
            outside: list[str] = []
            ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(hostile_site) else (outside.append(r.request.url), r.abort()))
            page = ctx.new_page()
            page.set_default_timeout(10_000)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            paths = ["2026-09/index.html", "2026-09/value-streams/shop/index.html", "2026-09/value-streams/app/index.html", "2026-09/metrics/index.html",
                     "2026-09/pages/about/index.html", "2026-09/compare/index.html", "2026-08/index.html", "latest/index.html", "index.html", "404.html"]
            rendered, tooltips = 0, []
            for path in paths:
                page.goto(hostile_site + path)
                page.wait_for_load_state("networkidle")
                search = page.locator("#search-input")
                if search.count() and search.is_visible():
                    search.fill("<img src=x onerror=alert('search')>")
                    search.fill("Shop")
                    page.wait_for_timeout(100)
                for _ in range(3):  # a clicked button hides itself, so take the first visible one each time
                    buttons = page.locator(".chart-interactive:visible")
                    if not buttons.count():
                        break
                    buttons.first.click(timeout=5000)
                    page.wait_for_timeout(300)
                rendered += page.locator(".vega-embed").count()
                for mark in page.locator(".vega-embed svg path[role='graphics-symbol'], .vega-embed svg path.mark-symbol, .vega-embed .mark-rect path, .vega-embed .mark-symbol path").all()[:12]:
                    if mark.is_visible():
                        mark.hover(force=True)
                        page.wait_for_timeout(50)
                        tips = page.locator("#vg-tooltip-element")
                        if tips.count() and tips.first.is_visible():
                            tooltips.append(tips.first.inner_text())
                            assert page.evaluate("() => document.querySelectorAll('#vg-tooltip-element *:not(table, tbody, tr, td, th, h2)').length") == 0
                details = page.locator("details")
                for i in range(min(details.count(), 3)):
                    details.nth(i).evaluate("d => d.open = !d.open")
                state = page.evaluate("""() => ({
                    pwned: window.__pwned || null,
                    violations: window.__violations,
                    handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name)),
                    inline: [...document.querySelectorAll('script:not([src])')].map(s => s.textContent.slice(0, 60)),
                    frames: document.querySelectorAll('iframe, object, embed').length,
                    scriptLinks: [...document.querySelectorAll('a[href]')].map(a => a.href).filter(h => /^javascript:/i.test(h)),
                    title: document.title,
                })""")
                assert state["pwned"] is None, (path, state)
                assert state["violations"] == [], (path, state["violations"])
                assert state["handlers"] == [] and state["inline"] == [] and state["frames"] == 0 and state["scriptLinks"] == [], (path, state)
                assert "ZZEVAL" not in page.content()
            assert rendered > 0, "the interactive (Vega) charts were exercised"
            print(f"{rendered} interactive charts, {len(tooltips)} tooltips seen: {tooltips[:3]}")
            assert dialogs == [], f"dialogs opened: {dialogs}"
            assert outside == [], f"requests left the site: {outside}"
            assert errors == [], f"page errors: {errors}"
        finally:
            browser.close()


def test_the_watch_would_see_a_dialog(tmp_path: Path):
    """Guard against a test that cannot fail: an unsafe page does open a dialog here."""
    (tmp_path / "bad.html").write_text("<p><img src=x onerror=\"alert('img')\"></p>")
    dialogs: list[str] = []

    def visit():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = launch(p)
            try:
                page = browser.new_page()
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                page.goto((tmp_path / "bad.html").as_uri())
                page.wait_for_timeout(300)
            finally:
                browser.close()

    in_own_thread(visit)
    assert dialogs == ["img"]
