"""Narrative pages: markdown with front matter and shortcodes for live figures and charts.

Raw HTML is off unless the project turns it on, and then it is sanitised with nh3. Links to
`javascript:`, `vbscript:`, `file:` and `data:` URLs are dropped. Shortcodes are
`[[figure VALUE_STREAM METRIC]]` and `[[chart VALUE_STREAM METRIC]]`; they are expanded after the
markdown is rendered, so data never passes through a template engine.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nh3
import yaml
from markdown_it import MarkdownIt

from ._schema import CONTROL
from .errors import BuildError, Problem

SHORTCODE = re.compile(r"\[\[(figure|chart)\s+([A-Za-z0-9_.-]+)\s+([A-Za-z0-9_.-]+)\]\]")
BAD_URL = re.compile(r"^\s*(javascript|vbscript|file|data):", re.I)


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    order: float
    body: str  # rendered HTML with shortcodes still to expand
    source: str  # path shown in messages


def _markdown(allow_html: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": allow_html, "linkify": False, "typographer": False}).enable("table").enable("strikethrough")
    md.validateLink = lambda url: not BAD_URL.match(url)
    return md


def render_markdown(text: str, *, allow_html: bool = False) -> str:
    out = _markdown(allow_html).render(text)
    if allow_html:
        out = nh3.clean(out, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
    return out


def _front_matter(text: str, shown: str) -> tuple[dict, str, int]:
    if not text.startswith("---"):
        return {}, text, 0
    m = re.match(r"^---\s*\n(.*?)\n---\s*\n?", text, re.S)
    if not m:
        raise BuildError(problems=[Problem("front matter starts with --- but never ends", file=shown, line=1, hint="close it with a line holding only ---")])
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise BuildError(problems=[Problem(f"invalid front matter: {getattr(exc, 'problem', exc)}", file=shown, line=(mark.line + 2) if mark else 1)]) from None
    if not isinstance(meta, dict):
        raise BuildError(problems=[Problem("expected front matter to be a mapping (title: ..., order: ...)", file=shown, line=1)])
    return meta, text[m.end():], m.group(0).count("\n")


def slug_of(path: Path) -> str:
    stem = re.sub(r"^\d+[-_ ]*", "", path.stem) or path.stem
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "page"


def load_pages(pages_dir: Path, *, allow_html: bool = False, shown_root: Path | None = None) -> list[Page]:
    if not pages_dir.is_dir():
        return []
    pages: list[Page] = []
    seen: dict[str, str] = {}
    for path in sorted(pages_dir.glob("*.md")):
        shown = str(path.relative_to(shown_root)) if shown_root else path.name
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise BuildError(problems=[Problem("expected UTF-8 text", file=shown, hint="save the page as UTF-8")]) from None
        except OSError as exc:
            raise BuildError(problems=[Problem(f"cannot read: {exc.strerror}", file=shown)]) from None
        bad = CONTROL.search(text)
        if bad:
            line = text[: bad.start()].count("\n") + 1
            raise BuildError(problems=[Problem(f"expected text without control characters, got {bad.group()!r}", file=shown, line=line, hint="remove the invisible character; an editor's 'show invisibles' finds it")])
        meta, body, _ = _front_matter(text, shown)
        for key, value in meta.items():
            if isinstance(value, str) and CONTROL.search(value):  # YAML escapes such as "\0"
                raise BuildError(problems=[Problem(f"expected text without control characters, got {value!r}", file=shown, key=str(key))])
        slug = str(meta.get("slug") or slug_of(path))
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
            raise BuildError(problems=[Problem(f"expected a slug of lowercase letters, digits and -, got {slug!r}", file=shown, key="slug")])
        if slug in seen:
            raise BuildError(problems=[Problem(f"two pages have the slug {slug!r} (also {seen[slug]})", file=shown, hint="rename one file or set `slug:` in its front matter")])
        seen[slug] = shown
        title = meta.get("title")
        if not title:
            h1 = re.search(r"^#\s+(.+)$", body, re.M)
            title = h1.group(1).strip() if h1 else slug.replace("-", " ").title()
        order = meta.get("order", len(pages) + 1)
        if isinstance(order, bool) or not isinstance(order, (int, float)):
            raise BuildError(problems=[Problem(f"expected a number for order, got {order!r}", file=shown, key="order")])
        pages.append(Page(slug, str(title), float(order), render_markdown(body, allow_html=allow_html), shown))
    return sorted(pages, key=lambda p: (p.order, p.slug))


def expand_shortcodes(page: Page, resolve: Callable[[str, str, str], str | None]) -> str:
    """Replace shortcodes with HTML from `resolve(kind, value_stream, metric)`; None means unknown."""
    problems: list[Problem] = []

    def sub(m: re.Match) -> str:
        out = resolve(m.group(1), m.group(2), m.group(3))
        if out is None:
            problems.append(Problem(f"unknown value stream or metric in {m.group(0)}", file=page.source, hint="use [[figure VALUE_STREAM_ID METRIC_ID]], e.g. [[figure checkout flow_time]]"))
            return m.group(0)
        return out

    html = SHORTCODE.sub(sub, page.body)
    if problems:
        raise BuildError(problems=problems)
    return html
