"""Hostile strings and an HTML auditor shared by the security tests.

The auditor parses pages with the standard library's html.parser (what a browser's tokenizer sees
first) and reports every element, attribute or URL that could run script.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "' onmouseover='alert(1)' x='",
    '" onfocus="alert(1)" autofocus="',
    "javascript:alert(1)",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=\"data:text/html,<script>alert(1)</script>\"></iframe>",
    "</title><script>alert(1)</script>",
    "</textarea></style></script><script>alert(1)</script>",
    "<!--<script>alert(1)//-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "{{ 'ZZ' ~ 'EVAL' }}",
    "{% if true %}ZZ{{ 'BLOCK' }}{% endif %}",
    "${alert(1)}`",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#x3C;script&#x3E;",
    "\u202eevil\u202c",  # right-to-left override
    "\u2066isolate\u2069",
    "[x](javascript:alert(1))",
    "<style>body{display:none}</style>",
    "<base href=\"//evil.example/\">",
    "<meta http-equiv=refresh content=\"0;url=javascript:alert(1)\">",
    "<form action=javascript:alert(1)><button>x</button></form>",
]

# What a template engine would print if it evaluated our payloads: must never appear.
EVALUATED = ("ZZEVAL", "ZZBLOCK")
URL_ATTRS = {"href", "src", "xlink:href", "action", "formaction", "data", "poster", "background", "srcset", "data-spec"}
BAD_SCHEME = re.compile(r"^(javascript|vbscript|data|file):", re.I)


@dataclass
class Audit:
    path: str
    tags: set[str] = field(default_factory=set)
    attrs: set[tuple[str, str]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


class _Auditor(HTMLParser):
    def __init__(self, audit: Audit):
        super().__init__(convert_charrefs=True)
        self.a = audit
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        self.a.tags.add(tag)
        for name, value in attrs:
            self.a.attrs.add((tag, name))
            if name.startswith("on"):
                self.a.problems.append(f"event handler <{tag} {name}={value!r}>")
            if name in URL_ATTRS and value is not None:
                # Browsers drop ASCII whitespace and controls inside a URL's scheme.
                squeezed = re.sub(r"[\x00-\x20]", "", value)
                if BAD_SCHEME.match(squeezed) and not (tag == "meta"):
                    self.a.problems.append(f"script-capable URL <{tag} {name}={value!r}>")
            if tag == "meta" and name == "http-equiv" and (value or "").lower() == "refresh":
                content = dict(attrs).get("content") or ""
                if BAD_SCHEME.search(re.sub(r"^.*url=", "", content, flags=re.I)):
                    self.a.problems.append(f"refresh to a script URL {content!r}")
        if tag == "script":
            src = dict(attrs).get("src")
            if not src or not re.fullmatch(r"(\.\./)*assets/[\w./-]+\.js", src):
                self.a.problems.append(f"script element {attrs!r}")
            self.in_script = True
        if tag in {"iframe", "frame", "object", "embed", "base", "applet", "template", "foreignobject", "handler"}:
            self.a.problems.append(f"unexpected element <{tag}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self.in_script = False

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and data.strip():
            self.a.problems.append(f"inline script code {data[:80]!r}")


def audit_html(text: str, path: str = "") -> Audit:
    a = Audit(path)
    p = _Auditor(a)
    p.feed(text)
    p.close()
    if "\x00" in text:
        a.problems.append("NUL character in the page")
    for marker in EVALUATED:
        if marker in text:
            a.problems.append(f"template syntax was evaluated ({marker})")
    return a


def audit_site(root: Path) -> dict[str, Audit]:
    return {str(p.relative_to(root)): audit_html(p.read_text(encoding="utf-8"), str(p.relative_to(root))) for p in sorted(root.rglob("*.html"))}
