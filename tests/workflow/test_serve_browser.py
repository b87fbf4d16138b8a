"""Live reload in real Chromium: the page reloads itself after a rebuild and shows a failed build as a banner."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flowsite.serve import DevServer
from tests.workflow.project import small_project
from tests.workflow.test_serve import status, touch_later, wait_for

CHROMIUM = Path("/usr/bin/chromium")


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return "browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests need the playwright package (pip install -e '.[test]')"
    return None


pytestmark = [pytest.mark.browser, pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]


def in_own_thread(fn):
    """Run fn in a fresh thread: Playwright's sync API refuses a thread where another session (tests/browser) is open."""
    outcome: list[BaseException] = []

    def run():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join(timeout=120)
    assert not t.is_alive(), "the browser check hung"
    if outcome:
        raise outcome[0]


def test_page_reloads_and_shows_build_errors(tmp_path):
    project = small_project(tmp_path / "p")
    with DevServer(project, port=0, interval=0.1, echo=lambda m: None) as server:
        in_own_thread(lambda: _watch_the_page(server, project))


def _watch_the_page(server: DevServer, project: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
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
