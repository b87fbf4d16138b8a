"""Shields-style SVG badges, one per value stream and figure, for READMEs and wikis.

`version_badges(model)` returns {"badges/<vs>/<metric>.svg": bytes} for one version folder, plus
`badges/<vs>.svg` (the value stream's alignment). Text from data is XML-escaped; each badge is an accessible image
(role="img", aria-label and <title>) and shows the status as a symbol, not only as a colour.
"""
from __future__ import annotations

import functools
import hashlib
import unicodedata
from typing import Callable

from markupsafe import escape

from .scorecard import Figure, Scorecard, SiteModel, Status

LABEL_BG = "#555"
# Dark enough for white text at WCAG AA (4.5:1) on every background.
COLOURS = {
    Status.ON_TRACK: "#1a7f37",
    Status.AT_RISK: "#9a6700",
    Status.OFF_TRACK: "#c62828",
    Status.NO_TARGET: "#0b5cad",
    Status.NO_DATA: "#5f6368",
}
SYMBOL = {Status.ON_TRACK: " ✔", Status.AT_RISK: " ▲", Status.OFF_TRACK: " ✖"}

# Approximate advance widths of Verdana 11px (what shields.io measures with); unknown characters use 7.
_NARROW = set("fijlrt.,:;'|!()[] ")
_WIDE = set("mwMW%@")


@functools.lru_cache(maxsize=8192)  # labels and short values repeat across hundreds of value streams
def text_width(text: str) -> int:
    w = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in ("W", "F") or ord(ch) >= 0x1F000:
            w += 11.0  # CJK and emoji are a full em
        elif unicodedata.combining(ch) or unicodedata.category(ch) == "Cf":
            continue  # zero-width: accents, bidi and joiner controls
        elif ch in _NARROW:
            w += 4.0
        elif ch in _WIDE:
            w += 10.0
        elif ch.isupper() or ch.isdigit():
            w += 7.5
        else:
            w += 6.6
    return int(round(w))


def short_value(fig: Figure) -> str:
    """The figure in a few characters: '8.2/wk', '6 d', '12%', 'no data'."""
    v = fig.value
    if v is None:
        return "no data"
    unit = fig.unit
    if unit == "per week":
        return f"{v:.1f}/wk"
    if unit == "days":
        return f"{v:.0f} d" if v >= 10 else f"{v:.1f} d"
    if unit == "hours":
        if abs(v) >= 72:
            return f"{v / 24:.1f} d"
        return f"{v * 60:.0f} min" if abs(v) < 1 else f"{v:.1f} h"
    if unit == "%":
        return f"{v:.{min(fig.decimals, 1)}f}%"
    text = f"{v:,.{fig.decimals}f}"
    return f"{text} {unit}".strip()


def badge_svg(label: str, message: str, colour: str, description: str) -> str:
    """One flat badge: grey label on the left, coloured message on the right."""
    lw, mw = text_width(label) + 10, text_width(message) + 10
    width = lw + mw
    lab, msg, desc = escape(label), escape(message), escape(description)
    # Ids unique per badge, so badges inlined side by side in one page do not share a clip path.
    uid = hashlib.sha1(f"{label}\0{message}\0{colour}".encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" viewBox="0 0 {width} 20" role="img" aria-label="{desc}">'
        f"<title>{desc}</title>"
        f'<linearGradient id="s{uid}" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r{uid}"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r{uid})"><rect width="{lw}" height="20" fill="{LABEL_BG}"/><rect x="{lw}" width="{mw}" height="20" fill="{colour}"/>'
        f'<rect width="{width}" height="20" fill="url(#s{uid})"/></g>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11" aria-hidden="true">'
        f'<text x="{lw / 2:.1f}" y="14">{lab}</text><text x="{lw + mw / 2:.1f}" y="14">{msg}</text></g></svg>\n'
    )


def figure_badge(fig: Figure, vs_name: str) -> str:
    message = short_value(fig) + SYMBOL.get(fig.status, "")
    label = fig.name.lower() if not fig.metric.startswith("kpi.") else fig.name
    described = f"{vs_name}: {fig.name} {short_value(fig)} ({fig.period}), {fig.status.label.lower()}"
    if fig.target is not None:
        described += f", target {fig.target_display}"
    return badge_svg(label, message, COLOURS[fig.status], described)


def card_badges(card: Scorecard) -> dict[str, bytes]:
    """One value stream's badges: its alignment and each of its figures."""
    files: dict[str, bytes] = {}
    for fig in card.figures:
        files[f"badges/{card.id}/{fig.metric}.svg"] = figure_badge(fig, card.name).encode("utf-8")
    a = card.alignment
    status = a.status
    message = f"{a.on_track}/{a.with_target} on track" if a.with_target else "no targets"
    files[f"badges/{card.id}.svg"] = badge_svg(
        "alignment", message + SYMBOL.get(status, ""), COLOURS[status],
        f"{card.name}: alignment {status.label.lower()}, {a.on_track} on track, {a.at_risk} at risk, {a.off_track} off track",
    ).encode("utf-8")
    return files


def version_badges(model: SiteModel, reuse: Callable[[Scorecard, Callable[[], dict[str, bytes]]], dict[str, bytes]] | None = None) -> dict[str, bytes]:
    """`reuse(card, make)`: a value stream's badges (the incremental build keeps the last build's), else `make()`."""
    files: dict[str, bytes] = {}
    for card in model.scorecards:
        files.update(card_badges(card) if reuse is None else reuse(card, lambda card=card: card_badges(card)))
    return dict(sorted(files.items()))
