"""Browser fixtures: two versions of the sample site, served under /repo/ on 127.0.0.1, in Debian's Chromium.

Chromium is never downloaded: Playwright drives /usr/bin/chromium through `executable_path`, and every
test here is skipped with a reason when it is absent. Each page records console errors, page errors and
any request that would leave the local server (those are aborted, so a test can't pass by reaching out).
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.chromium import launch, missing_reason
from tests.conftest import SAMPLE

PREFIX = "/repo/"  # a sub-path, like GitHub Pages' /<repo>/, to prove every link is relative
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"



def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    reason = missing_reason(axe=True)
    if reason and os.environ.get("FLOWSITE_REQUIRE_BROWSER") and any(here in Path(str(i.fspath)).parents for i in items):
        raise pytest.UsageError(f"FLOWSITE_REQUIRE_BROWSER is set but {reason}")
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files under PREFIX only; anything else is a 404, as on a project's GitHub Pages site."""

    def translate_path(self, path: str) -> str:
        p = urlsplit(path).path
        if not p.startswith(PREFIX):
            return str(Path(self.directory) / "\0missing")
        return super().translate_path("/" + p[len(PREFIX):])

    def log_message(self, format, *args):  # keep test output clean
        pass


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """OUT with two versions: 2026-10 (without the quarter-review page) and 2026-11 (latest)."""
    from flowsite import build

    root = tmp_path_factory.mktemp("browser")
    older = root / "older"
    shutil.copytree(SAMPLE, older, ignore=shutil.ignore_patterns("site", "__pycache__"))
    (older / "pages" / "02-quarter-review.md").unlink()
    out = root / "site"
    build(older, out=out, version="2026-10")
    build(SAMPLE, out=out, version="2026-11")
    return out


@pytest.fixture(scope="session")
def base_url(site: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@dataclass
class Recorder:
    origin: str
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    responses: list = field(default_factory=list)

    def check(self) -> None:
        assert not self.outside, f"requests left the local server: {self.outside}"
        assert not self.errors, f"console errors: {self.errors}"


@pytest.fixture
def open_page(browser, base_url):
    """open_page(path, scheme="light", width=1280, js=True, idle=False) -> (page, recorder)."""
    contexts = []
    origin = base_url[: -len(PREFIX) + 1]

    def _open(path: str, *, scheme: str = "light", width: int = 1280, height: int = 900, js: bool = True, idle: bool = False):
        ctx = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme, java_script_enabled=js,
                                  service_workers="block")
        contexts.append(ctx)
        rec = Recorder(origin)

        def route(r):
            if r.request.url.startswith(origin):
                r.continue_()
            else:
                rec.outside.append(r.request.url)
                r.abort()

        ctx.route("**/*", route)
        page = ctx.new_page()
        page.on("console", lambda m: rec.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: rec.errors.append(f"page error: {e}"))
        page.on("response", lambda r: rec.responses.append(r))
        page.goto(base_url + path)
        # "networkidle" also waits for the script's fetches (versions.json); tests that don't need them
        # to have finished wait for what they use instead.
        page.wait_for_load_state("networkidle" if idle else "load")
        return page, rec

    yield _open
    for ctx in contexts:
        ctx.close()
