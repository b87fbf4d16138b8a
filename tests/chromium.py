"""Debian's Chromium for every browser test: where it is, how to start it, and why a test skips.

Playwright never downloads a browser here; it drives /usr/bin/chromium through `executable_path`.
"""
from __future__ import annotations

import threading
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium reaches for outside hosts at every start.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-default-apps", "--disable-sync"]


def missing_reason(*, axe: bool = False) -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return "browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
        if axe:
            import axe_playwright_python  # noqa: F401
    except ImportError:
        return "browser tests need playwright" + (" and axe-playwright-python" if axe else "") + " (pip install -e '.[test]')"
    return None


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)


def in_own_thread(fn, timeout: float = 240) -> None:
    """Run fn in a fresh thread: Playwright's sync API refuses a thread where another session (tests/browser) is open."""
    failure: list[BaseException] = []

    def run():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout=timeout)
    assert not t.is_alive(), "the browser check hung"
    if failure:
        raise failure[0]
