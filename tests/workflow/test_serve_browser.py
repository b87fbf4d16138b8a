"""Live reload in real Chromium: the page reloads itself after a rebuild and shows a failed build as a banner."""
from __future__ import annotations

from pathlib import Path

import pytest

from flowsite.serve import DevServer
from tests.chromium import in_own_thread, launch, missing_reason
from tests.workflow.project import small_project
from tests.workflow.test_serve import status, touch_later, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")]


def test_page_reloads_and_shows_build_errors(tmp_path):
    project = small_project(tmp_path / "p")
    with DevServer(project, port=0, interval=0.1, echo=lambda m: None) as server:
        in_own_thread(lambda: _watch_the_page(server, project))


def _watch_the_page(server: DevServer, project: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "latest/pages/about/")
            page.wait_for_function("() => document.body.innerText.includes('The first version')")
            page.wait_for_timeout(1000)  # let the script take its first status reading

            touch_later(project / "pages" / "about.md", "# About\n\nEdited while the browser watched.\n")
            page.wait_for_function("() => document.body.innerText.includes('Edited while the browser watched.')", timeout=20000)

            cfg = project / "flowsite.yml"
            touch_later(cfg, cfg.read_text().replace("window: 3", "window: many"))
            banner = page.locator("#flowsite-dev-error[role=alert]")
            banner.wait_for(timeout=20000)
            assert "window: expected a whole number" in banner.inner_text()
            assert "Edited while the browser watched." in page.inner_text("main")

            touch_later(cfg, cfg.read_text().replace("window: many", "window: 3"))
            wait_for(lambda: status(server)["error"] is None)
            page.wait_for_function("() => !document.getElementById('flowsite-dev-error')", timeout=20000)
            assert not errors, errors  # the CSP let the live-reload script run
        finally:
            browser.close()
