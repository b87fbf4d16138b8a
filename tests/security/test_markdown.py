"""Markdown pages: raw HTML off by default, script URLs dropped, and nh3 sanitising when HTML is on."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from flowsite.pages import render_markdown
from tests.bad_inputs.tiny import CONFIG, write_tiny
from tests.conftest import run_cli
from tests.security.hostile import audit_html

SCRIPT_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;avascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "file:///etc/passwd",
]
LINK_FORMS = [
    "[click]({u})",
    "![img]({u})",
    "[click][ref]\n\n[ref]: {u}",
    "<{u}>",
    '[click]({u} "title")',
]
RAW_HTML = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)><circle r=1 /></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><maction actiontype=statusline xlink:href=javascript:alert(1)>x</maction></math>",
    '<iframe src="https://evil.example/"></iframe>',
    '<a href="javascript:alert(1)">x</a>',
    '<form action="https://evil.example/"><input name=q></form>',
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<object data="x.swf"></object><embed src="x.swf">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<base href="https://evil.example/">',
    '<p title="a" onmouseover="alert(1)">hover</p>',
]


def no_script_url(html: str) -> bool:
    low = html.lower().replace("&#106;", "j").replace("&#x6a;", "j")
    return not any(s in low for s in ("javascript:", "vbscript:", "data:text", "data:image", "file:"))


@pytest.mark.parametrize("allow_html", [False, True], ids=["html-off", "html-on"])
@pytest.mark.parametrize("form", LINK_FORMS)
@pytest.mark.parametrize("url", SCRIPT_URLS)
def test_script_urls_never_become_links(url: str, form: str, allow_html: bool):
    html = render_markdown(form.format(u=url), allow_html=allow_html)
    assert audit_html(html).problems == []
    for attr in ("href=", "src="):
        for chunk in html.split(attr)[1:]:
            assert no_script_url(chunk.split(">")[0]), html


@pytest.mark.parametrize("raw", RAW_HTML)
def test_raw_html_is_text_by_default(raw: str):
    html = render_markdown(f"Before\n\n{raw}\n\nAfter {raw}")
    a = audit_html(html)
    assert a.problems == [] and a.tags <= {"p"}, (a.tags, html)
    assert "&lt;" in html  # shown as text, not dropped


@pytest.mark.parametrize("raw", RAW_HTML)
def test_raw_html_is_sanitised_when_enabled(raw: str):
    html = render_markdown(f"Before\n\n{raw}\n\nAfter {raw}", allow_html=True)
    a = audit_html(html)
    assert a.problems == []
    assert not a.tags & {"script", "iframe", "svg", "math", "form", "input", "style", "object", "embed", "meta", "base"}, (a.tags, html)
    assert not any(name.startswith("on") or name == "style" for _, name in a.attrs), a.attrs
    assert no_script_url(html) and "evil.example" not in html


def test_safe_html_survives_when_enabled():
    html = render_markdown('<details><summary>More</summary><p>Text with <abbr title="lead time">LT</abbr> and <a href="https://example.org/">a link</a>.</p></details>', allow_html=True)
    assert "<details>" in html and "<abbr title=\"lead time\">" in html
    assert 'href="https://example.org/"' in html and 'rel="noopener noreferrer"' in html


def test_markdown_html_setting_through_the_cli(tmp_path: Path):
    body = "# Notes\n\n<b>bold</b> <script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))\n"
    for html_on in (False, True):
        config = copy.deepcopy(CONFIG)
        config["markdown"] = {"html": html_on}
        project = write_tiny(tmp_path / f"p{html_on}", config, {"pages/notes.md": body})
        r = run_cli("build", project, "--out", tmp_path / f"site{html_on}")
        assert r.exit_code == 0, r.output
        page = (tmp_path / f"site{html_on}" / "2026-09" / "pages" / "notes" / "index.html").read_text(encoding="utf-8")
        assert audit_html(page).problems == []
        assert ("<b>bold</b>" in page) is html_on
        assert ("&lt;b&gt;bold&lt;/b&gt;" in page) is (not html_on)
        assert "href=\"javascript" not in page.lower()  # the link text may stay, as text
        if html_on:
            assert "onerror" not in page and "<script>alert" not in page
