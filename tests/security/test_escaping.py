"""Every string that reaches a page is escaped: a hypothesis property test over hostile strings.

Hostile text goes into every user-controlled string of a tiny project (names, owners, descriptions,
KPI names and units, page titles and markdown, the version title, config labels); the chart labels
and tooltips inside the inline SVG and the chart JSON are made from the same strings. The build
runs through the Python API, and every page is parsed and audited.
"""
from __future__ import annotations

import copy
import json
import os
import re
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from flowsite._build import build
from flowsite.errors import ConfigError, BuildError
from tests.bad_inputs.tiny import CONFIG, write_tiny
from tests.security.hostile import EVALUATED, PAYLOADS, audit_site

ALPHABET = list("<>\"'&`/=;:{}%#![]()*_\\ -.\n") + ["\u202e", "\u2066", "\u2069", "\u200b", "é", "中", "\U0001f600", "javascript:", "<script>", "on", "{{", "}}", "{%", "%}", "&amp;", "&#60;"]
hostile = st.one_of(
    st.sampled_from(PAYLOADS),
    st.lists(st.sampled_from(PAYLOADS), min_size=2, max_size=3).map("".join),
    st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=20).map("".join),
).filter(lambda s: s.strip() != "")

FIELDS = ["name", "description", "site_title", "vs_name", "vs_description", "owner", "kpi_name", "kpi_unit", "kpi_description", "page_title", "page_text", "link_url", "version_title"]

# Elements and attributes markdown may add on a narrative page (raw HTML is off by default).
MARKDOWN_TAGS = {"p", "em", "strong", "code", "pre", "a", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "hr", "br", "img", "table", "thead", "tbody", "tr", "th", "td", "s"}
MARKDOWN_ATTRS = {("a", "href"), ("a", "title"), ("img", "src"), ("img", "alt"), ("img", "title"), ("ol", "start"), ("th", "style"), ("td", "style"), ("code", "class")}


def project_config(s: dict[str, str]) -> dict:
    c = copy.deepcopy(CONFIG)
    c["name"] = s["name"]
    c["description"] = s["description"]
    c["site"]["title"] = s["site_title"]
    vs = c["value_streams"][0]
    vs.update(name=s["vs_name"], description=s["vs_description"], owners=[s["owner"], "Plain owner"])
    vs["kpis"][0].update(name=s["kpi_name"], unit=s["kpi_unit"], description=s["kpi_description"])
    c["value_streams"][1]["name"] = s["vs_name"] + " 2"
    return c


def page(s: dict[str, str]) -> str:
    front = json.dumps({"title": s["page_title"]}, ensure_ascii=False)  # JSON is YAML: exact round trip
    text = s["page_text"]
    return (f"---\n{front[1:-1]}\n---\n# {text}\n\n{text}\n\n*{text}* and `{text}` and [{text}]({s['link_url']}) and "
            f"[ref][r] and <{s['link_url']}>\n\n> {text}\n\n- {text}\n\n[r]: {s['link_url']}\n\n[[figure shop conversion]]\n")


def make_build(tmp: Path, s: dict[str, str]) -> Path:
    project = write_tiny(tmp / "project", project_config(s), {"pages/about.md": page(s)})
    build(project, out=tmp / "site", version="2026-09", title=s["version_title"])
    return tmp / "site"


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.attr_values: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)

    def handle_starttag(self, tag, attrs):
        self.attr_values.extend(v for _, v in attrs if v)


def text_of(html: str) -> tuple[str, str]:
    p = _Text()
    p.feed(html)
    return "".join(p.parts), "\n".join(p.attr_values)


@lru_cache(maxsize=1)
def baseline() -> tuple[frozenset, frozenset]:
    """Tags and (tag, attribute) pairs of a build with plain strings: the theme's own vocabulary."""
    import tempfile

    plain = {f: f"Plain {f}" for f in FIELDS}
    plain["link_url"] = "https://example.org/x"
    plain["version_title"] = "September"
    with tempfile.TemporaryDirectory() as d:
        audits = audit_site(make_build(Path(d), plain))
    tags = frozenset(t for a in audits.values() for t in a.tags)
    attrs = frozenset(x for a in audits.values() for x in a.attrs)
    return tags, attrs


def assert_safe_site(site: Path, s: dict[str, str]) -> None:
    base_tags, base_attrs = baseline()
    audits = audit_site(site)
    assert len(audits) > 10
    for rel, a in audits.items():
        assert a.problems == [], f"{rel}: {a.problems}"
        narrative = "/pages/" in "/" + rel  # any version's or alias's copy of a markdown page
        extra_tags = a.tags - base_tags - (MARKDOWN_TAGS if narrative else set())
        assert not extra_tags, f"{rel}: unexpected elements {extra_tags}"
        extra_attrs = a.attrs - base_attrs - (MARKDOWN_ATTRS if narrative else set())
        assert not extra_attrs, f"{rel}: unexpected attributes {extra_attrs}"
    # Every hostile string is shown as the very text it is (not dropped, not evaluated, not mangled).
    overview, overview_attrs = text_of((site / "2026-09" / "index.html").read_text(encoding="utf-8"))
    card, card_attrs = text_of((site / "2026-09" / "value-streams" / "shop" / "index.html").read_text(encoding="utf-8"))
    for key, where in [("site_title", overview), ("vs_name", overview), ("version_title", overview), ("vs_name", card), ("owner", card), ("kpi_name", card)]:
        assert s[key] in where, f"{key} {s[key]!r} not shown as text"
    for rel in sorted((site / "2026-09").rglob("*")):
        if rel.suffix in (".json", ".svg", ".csv", ".html", ".xml"):
            data = rel.read_text(encoding="utf-8")
            for marker in EVALUATED:
                assert marker not in data, f"{rel}: template syntax evaluated"
            if rel.suffix == ".json":
                json.loads(data)
    charts = "".join(p.read_text(encoding="utf-8") for p in (site / "2026-09" / "charts").glob("*.json"))
    assert json.dumps(s["vs_name"])[1:-1] in charts or json.dumps(s["vs_name"], ensure_ascii=False)[1:-1] in charts, "value stream name missing from the chart specs"


# No shrinking: each example is a whole build; hypothesis prints the failing input as it is.
@settings(max_examples=max(1, int(8 * float(os.environ.get("FLOWSITE_FUZZ_SCALE", "1")))), deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.fixed_dictionaries({f: hostile for f in FIELDS}))
def test_hostile_strings_are_escaped_everywhere(tmp_path_factory, s):
    tmp = tmp_path_factory.mktemp("xss")
    assert_safe_site(make_build(tmp, s), s)


def test_the_auditor_catches_injection():
    """The property test can fail: unescaped payloads are reported."""
    from tests.security.hostile import audit_html

    assert audit_html('<p><img src=x onerror="alert(1)"></p>').problems
    assert audit_html('<a href=" java\tscript:alert(1)">x</a>').problems
    assert audit_html("<script>alert(1)</script>").problems
    assert audit_html("<svg><foreignObject></foreignObject></svg>").problems
    assert audit_html("<p>ZZEVAL</p>").problems
    assert not audit_html('<script src="../assets/flowsite.js" defer></script><p>&lt;script&gt;</p>').problems


@pytest.mark.parametrize("where,value", [("name", "evil\x00name"), ("vs_name", "red \x1b[31m"), ("owner", "del\x7f"), ("kpi_unit", "half \ud83d emoji")])
def test_control_characters_in_config_text_are_a_config_error(tmp_path: Path, where: str, value: str):
    """YAML escapes ("\\0", "\\x1b", "\\ud83d") can put them in; a lone surrogate used to crash the build."""
    s = {f: f"Plain {f}" for f in FIELDS}
    s[where] = value
    project = write_tiny(tmp_path / "project", project_config(s))
    with pytest.raises(ConfigError) as e:
        build(project, out=tmp_path / "site")
    assert "expected text without control characters" in e.value.format()
    assert not (tmp_path / "site").exists()


def test_control_characters_in_a_page_or_version_title_are_refused(tmp_path: Path):
    project = write_tiny(tmp_path / "project", files={"pages/about.md": "---\ntitle: \"a\\0b\"\n---\nText\n"})
    with pytest.raises(BuildError, match="control characters"):
        build(project, out=tmp_path / "site")
    project = write_tiny(tmp_path / "p2", files={"pages/about.md": "# Title\n\nbell \x07 here\n"})
    with pytest.raises(BuildError) as e:
        build(project, out=tmp_path / "site")
    assert re.search(r"pages/about\.md:3: expected text without control characters", e.value.format())
    with pytest.raises(BuildError, match="control characters"):
        build(write_tiny(tmp_path / "p3"), out=tmp_path / "site", title="v\x00")
    assert not (tmp_path / "site").exists()
