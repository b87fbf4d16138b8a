"""Tiny declarative schema machinery for flowsite.yml.

Each option knows its type, default and documentation; validation collects every problem
(with the YAML line) instead of stopping at the first, the way mkdocs and dbt report config errors.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from .errors import Problem

MISSING = object()
# C0 controls and DEL (not tab, newline, CR), and lone surrogates, which YAML's "\ud83d" escapes make.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


@dataclass
class Context:
    file: str
    lines: dict[str, int]
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def line(self, path: str) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rsplit(".", 1)[0] if "." in path else ""
        return self.lines.get("", None)

    def error(self, path: str, message: str, hint: str | None = None) -> None:
        self.errors.append(Problem(message, file=self.file, line=self.line(path), key=path or None, hint=hint))

    def warn(self, path: str, message: str, hint: str | None = None) -> None:
        self.warnings.append(Problem(message, file=self.file, line=self.line(path), key=path or None, hint=hint))


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    kind = {str: "text", bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{kind} {shown}" if not isinstance(value, (list, dict)) else kind


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


class Opt:
    """Base option. Subclasses implement `check` returning the cleaned value or MISSING on error."""

    type_name = "a value"

    def __init__(self, doc: str = "", *, default: Any = None, required: bool = False, example: Any = None):
        self.doc = doc
        self.default = default
        self.required = required
        self.example = example

    def validate(self, value: Any, path: str, ctx: Context) -> Any:
        if value is None:
            if self.required:
                ctx.error(path, f"expected {self.type_name}, got nothing", hint="this key is required")
                return MISSING
            return self.default() if callable(self.default) else self.default
        return self.check(value, path, ctx)

    def check(self, value: Any, path: str, ctx: Context) -> Any:  # pragma: no cover - abstract
        return value

    def expected(self, value: Any, path: str, ctx: Context, hint: str | None = None) -> Any:
        ctx.error(path, f"expected {self.type_name}, got {describe(value)}", hint=hint)
        return MISSING


class Str(Opt):
    type_name = "text"

    def __init__(self, doc: str = "", *, pattern: str | None = None, pattern_help: str | None = None, **kw):
        super().__init__(doc, **kw)
        self.pattern = re.compile(pattern) if pattern else None
        self.pattern_help = pattern_help

    def check(self, value, path, ctx):
        if isinstance(value, (bool, dict, list, bytes)):
            return self.expected(value, path, ctx)
        if not isinstance(value, str):
            value = str(value)  # numbers such as `2024` are fine as text
        if CONTROL.search(value):
            # YAML's "\0" escapes let NULs and other invisible controls in; no page should show them.
            ctx.error(path, f"expected text without control characters, got {describe(value)}", hint="remove the invisible character (YAML escapes such as \\0 or \\x1b); write emoji as themselves, not as \\ud83d\\ude00")
            return MISSING
        if self.pattern and not self.pattern.fullmatch(value):
            ctx.error(path, f"expected {self.pattern_help or 'text matching ' + self.pattern.pattern}, got {value!r}")
            return MISSING
        return value


class Int(Opt):
    type_name = "a whole number"

    def __init__(self, doc: str = "", *, min: int | None = None, max: int | None = None, **kw):
        super().__init__(doc, **kw)
        self.min, self.max = min, max

    def check(self, value, path, ctx):
        if isinstance(value, bool) or not isinstance(value, int):
            hint = "remove the quotes around the number" if isinstance(value, str) and value.strip().isdigit() else None
            return self.expected(value, path, ctx, hint)
        if self.min is not None and value < self.min or self.max is not None and value > self.max:
            ctx.error(path, f"expected a whole number between {self.min} and {self.max if self.max is not None else 'any'}, got {value}")
            return MISSING
        return value


class Float(Opt):
    type_name = "a number"

    def __init__(self, doc: str = "", *, min: float | None = None, max: float | None = None, **kw):
        super().__init__(doc, **kw)
        self.min, self.max = min, max

    def check(self, value, path, ctx):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = None
            if isinstance(value, str):
                try:
                    float(value)
                    hint = "remove the quotes around the number"
                except ValueError:
                    pass
            return self.expected(value, path, ctx, hint)
        value = float(value)
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            ctx.error(path, f"expected a number between {self.min} and {self.max}, got {value:g}")
            return MISSING
        return value


class Bool(Opt):
    type_name = "true or false"

    def check(self, value, path, ctx):
        if not isinstance(value, bool):
            return self.expected(value, path, ctx, "write true or false without quotes")
        return value


class Choice(Opt):
    def __init__(self, doc: str = "", *, choices: list[str], **kw):
        super().__init__(doc, **kw)
        self.choices = list(choices)
        self.type_name = "one of " + ", ".join(self.choices)

    def check(self, value, path, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or value not in self.choices:
            close = difflib.get_close_matches(str(value), self.choices, n=1)
            return self.expected(value, path, ctx, f"did you mean '{close[0]}'?" if close else None)
        return value


class Timezone(Opt):
    type_name = "an IANA time zone such as Europe/Berlin or UTC"

    def check(self, value, path, ctx):
        if not isinstance(value, str):
            return self.expected(value, path, ctx)
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            names = zoneinfo.available_timezones()
            close = difflib.get_close_matches(value, sorted(names), n=1)
            return self.expected(value, path, ctx, f"did you mean '{close[0]}'?" if close else "see the tz database names, e.g. America/New_York")
        return value


class Date(Opt):
    type_name = "a date like 2026-10-31"

    def check(self, value, path, ctx):
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        return self.expected(value, path, ctx)


class ListOf(Opt):
    def __init__(self, item: Opt, doc: str = "", *, allow_single: bool = False, **kw):
        kw.setdefault("default", list)
        super().__init__(doc, **kw)
        self.item = item
        self.allow_single = allow_single
        self.type_name = f"a list of {item.type_name}"

    def check(self, value, path, ctx):
        if not isinstance(value, list):
            if self.allow_single and not isinstance(value, dict):
                value = [value]
            else:
                return self.expected(value, path, ctx)
        out = []
        for i, v in enumerate(value):
            cleaned = self.item.validate(v, join(path, i), ctx)
            if cleaned is not MISSING:
                out.append(cleaned)
        return out


class MapOf(Opt):
    """A mapping with free keys (e.g. dataset name -> source)."""

    def __init__(self, value: Opt, doc: str = "", *, keys: list[str] | None = None, key_help: str | None = None, **kw):
        kw.setdefault("default", dict)
        super().__init__(doc, **kw)
        self.value = value
        self.keys = keys
        self.key_help = key_help
        self.type_name = "a mapping"

    def check(self, value, path, ctx):
        if not isinstance(value, dict):
            return self.expected(value, path, ctx)
        out = {}
        for k, v in value.items():
            k = str(k)
            if self.keys is not None and k not in self.keys:
                close = difflib.get_close_matches(k, self.keys, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(self.keys)}"
                ctx.error(join(path, k), f"expected {self.key_help or 'one of ' + ', '.join(self.keys)}, got {k!r}", hint=hint)
                continue
            if v is None and not isinstance(self.value, (ListOf, MapOf, Section)):
                ctx.error(join(path, k), f"expected {self.value.type_name}, got nothing", hint="give it a value or remove the key")
                continue
            cleaned = self.value.validate(v, join(path, k), ctx)
            if cleaned is not MISSING:
                out[k] = cleaned
        return out


class Section(Opt):
    """A mapping with fixed, documented keys. Unknown keys are warnings (fatal with --strict)."""

    type_name = "a mapping"

    def __init__(self, fields: dict[str, Opt], doc: str = "", *, shorthand: str | None = None, **kw):
        kw.setdefault("default", MISSING)
        super().__init__(doc, **kw)
        self.fields = fields
        self.shorthand = shorthand  # key a bare scalar stands for, e.g. `path`

    def validate(self, value, path, ctx):
        if value is None and not self.required:
            value = {}
        return super().validate(value, path, ctx)

    def check(self, value, path, ctx):
        if self.shorthand and not isinstance(value, dict):
            value = {self.shorthand: value}
        if not isinstance(value, dict):
            return self.expected(value, path, ctx)
        out: dict[str, Any] = {}
        for k in value:
            if str(k) not in self.fields:
                close = difflib.get_close_matches(str(k), list(self.fields), n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(self.fields)}"
                ctx.warn(join(path, str(k)), "unknown key, ignored", hint=hint)
        complete = True
        for name, opt in self.fields.items():
            cleaned = opt.validate(value.get(name), join(path, name), ctx)
            if cleaned is not MISSING:
                out[name] = cleaned
            elif opt.required:
                complete = False
        # Without a required key the section is reported and left out, so later checks never see it half-built.
        return out if complete else MISSING


def walk_docs(opt: Opt, path: str = "") -> list[tuple[str, Opt]]:
    """Every documented key as (dotted path, option); lists show as `key[]`."""
    rows: list[tuple[str, Opt]] = []
    if isinstance(opt, Section):
        for name, sub in opt.fields.items():
            p = join(path, name)
            rows.append((p, sub))
            rows.extend(walk_docs(sub, p))
    elif isinstance(opt, ListOf):
        rows.extend(walk_docs(opt.item, path + "[]"))
    elif isinstance(opt, MapOf):
        rows.extend(walk_docs(opt.value, path + ".<name>"))
    return rows
