"""Content-Security-Policy: every page of a build carries a strict policy, and nothing on it needs an exception.

All JavaScript lives in the site's own asset files: no inline <script> code, no on* handlers, no
javascript: URLs, and the policy itself forbids inline script and eval.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.bad_inputs.tiny import write_tiny
from tests.conftest import run_cli
from tests.security.hostile import audit_html


class _Head(HTMLParser):
    def __init__(self):
        super().__init__()
        self.csp: list[str] = []
        self.order: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp.append(a.get("content") or "")
            self.order.append("csp")
        elif tag in ("script", "link", "style", "img", "svg"):
            self.order.append(tag)


def policy(text: str) -> dict[str, list[str]]:
    out = {}
    for part in text.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("csp")
    project = write_tiny(root / "project", files={"pages/about.md": "# About\n\nSee [[chart shop conversion]] and [[figure shop conversion]].\n"})
    for version in ("2026-08", "2026-09"):
        r = run_cli("build", project, "--out", root / "site", "--version", version)
        assert r.exit_code == 0, r.output
    return root / "site"


def test_every_page_has_a_strict_csp_first(site: Path):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20 and (site / "index.html") in pages and (site / "404.html") in pages
    for page in pages:
        head = _Head()
        head.feed(page.read_text(encoding="utf-8"))
        assert len(head.csp) == 1, f"{page}: expected one CSP meta, found {len(head.csp)}"
        assert head.order[0] == "csp", f"{page}: the CSP must come before any script, style or image ({head.order[:3]})"
        p = policy(head.csp[0])
        assert p.get("default-src") == ["'self'"], f"{page}: {p}"
        scripts = p.get("script-src", p["default-src"])
        assert all(s == "'self'" for s in scripts), f"{page}: script-src {scripts}"
        assert p.get("object-src") == ["'none'"] and p.get("base-uri") in (["'none'"], ["'self'"])
        for directive, sources in p.items():
            assert "*" not in sources and "'unsafe-eval'" not in sources and not any(s.startswith(("http:", "https:")) for s in sources), f"{page}: {directive} {sources}"


def test_no_inline_script_no_handlers_no_script_urls(site: Path):
    pages = sorted(site.rglob("*.html"))
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert audit_html(text, str(page)).problems == [], page
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"{page}: a script element without src"
        assert not re.search(r"\son[a-z]+\s*=", text, re.I), f"{page}: an on* attribute"
        assert "javascript:" not in text.lower(), f"{page}: a javascript: URL"
    js = sorted((site / "2026-09" / "assets").rglob("*.js"))
    assert js, "the site's scripts live in assets/"
    used = {m for page in pages for m in re.findall(r'<script src="(?:\.\./)*(assets/[^"]+)"', page.read_text(encoding="utf-8"))}
    assert used and all((site / "2026-09" / u).is_file() for u in used)


def test_the_audit_would_notice_a_weak_policy():
    assert policy("default-src 'self'; script-src 'self' 'unsafe-inline'")["script-src"] == ["'self'", "'unsafe-inline'"]
    assert audit_html('<p onclick="x()">a</p>').problems and audit_html("<script>var a</script>").problems
