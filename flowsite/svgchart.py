"""Static SVG charts drawn in Python: the build's chart kinds, without a browser engine.

Each `draw_*` function takes the rows and options its Vega-Lite spec (`charts.py`) is built from and
returns the SVG Vega would draw for that spec, closely: the same view size, palette, fonts and axis
styling (`charts.CONFIG`, passed in as a `Theme`), d3's "nice" linear scales and tick labels, Vega's
binning, month ticks on time axes, legends at the bottom. It takes well under a few milliseconds
where vl-convert took tens. The interactive chart in the browser still comes from the spec.

Groups carry Vega's class names (`role-title-text`, `role-axis-grid`, `role-axis-label`,
`role-legend-label`, ...) so the theme's CSS restyles both renderers' SVGs in dark mode alike.
Text widths (label truncation, margins) are estimated from the advance widths in `_glyphs`.
Everything from data is XML-escaped; output is deterministic (no dict-order or float noise).
"""
from __future__ import annotations

import datetime as dt
import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from html import escape

import numpy as np

from . import _glyphs

# ---- text ------------------------------------------------------------------------------------
_DEFAULT_EM = (600, 660)  # a character the table does not cover (regular, bold), thousandths of an em
_WIDE_EM = 1000  # East Asian wide and full-width characters, most emoji
ELLIPSIS = "…"


@lru_cache(maxsize=16384)
def _em_width(text: str, bold: bool) -> int:
    table = _glyphs.BOLD if bold else _glyphs.REGULAR
    first, n = _glyphs.FIRST, len(table)
    total = 0
    for ch in text:
        i = ord(ch) - first
        w = table[i] if 0 <= i < n else 0
        if not w:
            if unicodedata.combining(ch) or ch in "\u200b\u200c\u200d\ufe0e\ufe0f":
                continue
            w = _WIDE_EM if unicodedata.east_asian_width(ch) in "WF" else _DEFAULT_EM[bold]
        total += w
    return total


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Estimated width in px of `text` at font size `size`."""
    return _em_width(text, bold) * size / 1000


def truncate(text: str, limit: float, size: float, bold: bool = False) -> str:
    """`text`, or its longest prefix that fits `limit` px with an ellipsis (as Vega's labelLimit)."""
    if limit <= 0 or text_width(text, size, bold) <= limit:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix whose width plus the ellipsis fits
        mid = (lo + hi + 1) // 2
        if text_width(text[:mid].rstrip() + ELLIPSIS, size, bold) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS


def _x(text: str) -> str:
    return escape(text, quote=True)


def _n(v: float) -> str:
    """A coordinate with at most one decimal, no trailing zeros: `str` of `round(v, 1)`, or of its
    int when that is whole (a million calls at scale: formatting rounds the same way, faster)."""
    if -1e15 < v < 1e15:
        text = f"{v:.1f}"
        if text.endswith(".0"):
            return "0" if text == "-0.0" else text[:-2]
        return text
    r = round(v, 1)
    i = int(r)
    return str(i) if r == i else str(r)


# ---- scales and ticks (d3-array / d3-scale / d3-format) ---------------------------------------
_E10, _E5, _E2 = math.sqrt(50), math.sqrt(10), math.sqrt(2)


def _tick_spec(start: float, stop: float, count: float) -> tuple[int, int, float]:
    step = (stop - start) / max(0, count)
    power = math.floor(math.log10(step))
    error = step / 10 ** power
    factor = 10 if error >= _E10 else 5 if error >= _E5 else 2 if error >= _E2 else 1
    if power < 0:
        inc = 10 ** -power / factor
        i1, i2 = _js_round(start * inc), _js_round(stop * inc)
        if i1 / inc < start:
            i1 += 1
        if i2 / inc > stop:
            i2 -= 1
        inc = -inc
    else:
        inc = 10 ** power * factor
        i1, i2 = _js_round(start / inc), _js_round(stop / inc)
        if i1 * inc < start:
            i1 += 1
        if i2 * inc > stop:
            i2 -= 1
    if i2 < i1 and 0.5 <= count < 2:
        return _tick_spec(start, stop, count * 2)
    return i1, i2, inc


def _js_round(v: float) -> int:
    return math.floor(v + 0.5)


def ticks(start: float, stop: float, count: float) -> list[float]:
    """d3.ticks: about `count` round values between start and stop (inclusive)."""
    if not count > 0:
        return []
    if start == stop:
        return [start]
    reverse = stop < start
    if reverse:
        start, stop = stop, start
    i1, i2, inc = _tick_spec(start, stop, count)
    if i2 < i1:
        return []
    out = [(i1 + i) / -inc for i in range(i2 - i1 + 1)] if inc < 0 else [(i1 + i) * inc for i in range(i2 - i1 + 1)]
    return out[::-1] if reverse else out


def tick_increment(start: float, stop: float, count: float) -> float:
    """d3.tickIncrement: the tick step, negative for 1/step when the step is below 1."""
    step = (stop - start) / max(0, count)
    power = math.floor(math.log10(step))
    error = step / 10 ** power
    factor = 10 if error >= _E10 else 5 if error >= _E5 else 2 if error >= _E2 else 1
    return factor * 10 ** power if power >= 0 else -(10 ** -power) / factor


def tick_step(start: float, stop: float, count: float) -> float:
    """d3.tickStep: the (positive) distance between the ticks of `ticks(start, stop, count)`."""
    inc = tick_increment(min(start, stop), max(start, stop), count)
    return -1 / inc if inc < 0 else inc


def nice(start: float, stop: float, count: float) -> tuple[float, float]:
    """A linear scale's domain extended to round values (d3 scale.nice(count))."""
    if stop < start:
        a, b = nice(stop, start, count)
        return b, a
    prestep = None
    for _ in range(10):
        if stop == start:
            break
        step = tick_increment(start, stop, count)
        if step == prestep:
            break
        if step > 0:
            start, stop = math.floor(start / step) * step, math.ceil(stop / step) * step
        elif step < 0:
            start, stop = math.ceil(start * step) / step, math.floor(stop * step) / step
        else:
            break
        prestep = step
    return start, stop


def tick_format(start: float, stop: float, count: float):
    """d3's default tick format for a linear scale: ",.Nf" with N from the tick step ("1,000", "0.5")."""
    step = tick_step(start, stop, count) if start != stop else 1
    precision = max(0, -int(f"{abs(step):e}".split("e")[1]))
    return lambda v: format_number(v, precision)


def format_number(v: float, decimals: int) -> str:
    """d3-format ",.{decimals}f": thousands separators, a minus sign, no negative zero."""
    s = f"{v:,.{decimals}f}"
    if s.startswith("-"):
        s = s[1:] if float(s[1:].replace(",", "")) == 0 else "\u2212" + s[1:]
    return s


def linear_domain(values, *, zero: bool = True) -> tuple[float, float]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if lo == hi:
        lo, hi = (lo, hi + 1) if lo == 0 else (min(lo, 0.0), max(hi, 0.0))
    return lo, hi


class Linear:
    """A continuous scale: domain -> range px, with d3's nice domain and about `count` ticks."""

    def __init__(self, domain: tuple[float, float], span: tuple[float, float], count: float, *, do_nice: bool = True):
        self.count = count
        # Vega makes the domain nice for d3's default 10 ticks, whatever the axis's tick count.
        d0, d1 = nice(domain[0], domain[1], 10) if do_nice else domain
        if d0 == d1:
            d1 = d0 + 1
        self.d0, self.d1, self.r0, self.r1 = d0, d1, span[0], span[1]
        self.k = (span[1] - span[0]) / (d1 - d0)

    def __call__(self, v: float) -> float:
        return self.r0 + (v - self.d0) * self.k

    def ticks(self) -> list[tuple[float, str]]:
        fmt = tick_format(self.d0, self.d1, self.count)
        return [(self(t), fmt(t)) for t in ticks(self.d0, self.d1, self.count)]


def point_positions(n: int, size: float, padding: float = 0.5) -> list[float]:
    """Vega's point scale: n points spread over `size` with half a step of padding at each end."""
    if n <= 0:
        return []
    step = size / max(1, n - 1 + 2 * padding)
    return [step * (padding + i) for i in range(n)] if n > 1 else [size / 2]


def band_positions(n: int, size: float, inner: float = 0.1, outer: float = 0.05) -> tuple[list[float], float]:
    """Vega's band scale: the start of each of n bands over `size`, and the band width."""
    if n <= 0:
        return [], 0.0
    step = size / max(1, n - inner + 2 * outer)
    return [step * (outer + i) for i in range(n)], step * (1 - inner)


# ---- binning (vega-statistics bin, as Vega-Lite's `bin: {maxbins}`) ----------------------------
def bin_params(lo: float, hi: float, maxbins: int = 30) -> tuple[float, float, float]:
    """(start, stop, step) of Vega's nice bins over [lo, hi]."""
    span = (hi - lo) or abs(lo) or 1.0
    level = math.ceil(math.log(maxbins) / math.log(10))
    step = 10 ** (_js_round(math.log10(span)) - level)
    while math.ceil(span / step) > maxbins:
        step *= 10
    for div in (5, 2):
        v = step / div
        if span / v <= maxbins:
            step = v
    v = math.log10(step)
    precision = 0 if v >= 0 else int(-v) + 1
    eps = 10 ** (-precision - 1)
    v = math.floor(lo / step + eps) * step
    start = v - step if lo < v else v
    stop = math.ceil(hi / step) * step
    return start, (start + step if stop == start else stop), step


def bin_counts(values, start: float, stop: float, step: float) -> list[int]:
    """How many of the finite values fall in each bin [start + i*step, start + (i+1)*step), the last
    bin closed (Vega's bin transform, vectorised)."""
    n = max(1, _js_round((stop - start) / step))
    a = np.asarray(values, dtype=float)
    a = a[np.isfinite(a) & (a >= start) & (a <= stop)]
    idx = np.floor(1e-14 + (np.clip(a, start, stop - step) - start) / step).astype(np.int64)
    return np.bincount(np.clip(idx, 0, n - 1), minlength=n).tolist()


def histogram_bins(values, maxbins: int = 30) -> tuple[float, float, float, list[int]]:
    """(start, stop, step, counts) of Vega's nice bins over the finite values, as Vega-Lite's
    `bin: {maxbins}` makes them."""
    vals = np.asarray(values, dtype=float)
    vals = vals[np.isfinite(vals)]
    lo, hi = (float(vals.min()), float(vals.max())) if vals.size else (0.0, 1.0)
    start, stop, step = bin_params(lo, hi, maxbins)
    return start, stop, step, bin_counts(vals, start, stop, step)


# ---- time ticks (d3-time, as Vega's time scale and its multi-format labels) --------------------
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")


def time_ticks(start: dt.date, stop: dt.date, count: float) -> list[tuple[dt.date, str]]:
    """Ticks of a time axis over whole days: days, weeks (Sundays), months, quarters or years,
    whichever spacing d3 would pick for about `count` ticks, labelled as Vega does."""
    span = max((stop - start).days, 1)
    target = span / count
    choices = [(1, "day"), (2, "day"), (7, "week"), (30, "month"), (91, "quarter"), (365, "year")]
    i = next((k for k, (days, _) in enumerate(choices) if days >= target), len(choices) - 1)
    if i > 0 and target / choices[i - 1][0] < choices[i][0] / target:
        i -= 1
    every, unit = choices[i]
    if unit == "year" and target > 365:
        every = max(1, round(tick_step(start.year, stop.year, count)))
    out = []
    if unit in ("day", "week"):
        d = start
        if unit == "week":
            d = start + dt.timedelta(days=(6 - start.weekday()) % 7)  # the first Sunday
        elif every == 2:
            d = start if (start.day - 1) % 2 == 0 else start + dt.timedelta(days=1)
        while d <= stop:
            if unit == "week" or every == 1 or (d.day - 1) % 2 == 0:
                out.append(d)
            d += dt.timedelta(days=7 if unit == "week" else 1)
    else:
        y, m = start.year, start.month
        d = dt.date(y, m, 1)
        while d <= stop:
            if d >= start and (unit == "month" or (unit == "quarter" and (d.month - 1) % 3 == 0) or (unit == "year" and d.month == 1 and d.year % every == 0)):
                out.append(d)
            m += 1
            if m > 12:
                y, m = y + 1, 1
            d = dt.date(y, m, 1)
    return [(d, _time_label(d)) for d in out]


def _time_label(d: dt.date) -> str:
    if d.month == 1 and d.day == 1:
        return str(d.year)
    if d.day == 1:
        return _MONTHS[d.month - 1]
    return f"{_MONTHS[d.month - 1][:3]} {d.day:02d}"


# ---- the frame: title, axes, legend ---------------------------------------------------------------
@dataclass(frozen=True)
class Theme:
    """The styling of every chart, read from a Vega-Lite `config` (charts.CONFIG)."""

    font: str
    category: tuple[str, ...]
    label_color: str
    axis_title_color: str
    grid_color: str
    domain_color: str
    tick_color: str
    label_size: float
    axis_title_size: float
    label_limit: float
    legend_label_color: str
    legend_title_color: str
    title_color: str
    title_size: float

    @classmethod
    def from_config(cls, config: dict) -> Theme:
        axis, legend, title = config.get("axis", {}), config.get("legend", {}), config.get("title", {})
        return cls(
            font=config.get("font", "sans-serif"), category=tuple(config.get("range", {}).get("category", ["#4c78a8"])),
            label_color=axis.get("labelColor", "#4b5563"), axis_title_color=axis.get("titleColor", "#374151"),
            grid_color=axis.get("gridColor", "#ddd"), domain_color=axis.get("domainColor", "#888"), tick_color=axis.get("tickColor", "#888"),
            label_size=axis.get("labelFontSize", 10), axis_title_size=axis.get("titleFontSize", 11), label_limit=axis.get("labelLimit", 180),
            legend_label_color=legend.get("labelColor", "#374151"), legend_title_color=legend.get("titleColor", "#374151"),
            title_color=title.get("color", "#111827"), title_size=title.get("fontSize", 13),
        )


PAD = 5  # Vega's padding around the whole chart
TICK = 5  # tick length
LABEL_PAD = 2  # between a tick and its label
TITLE_PAD = 4  # between the labels and the axis title
TITLE_OFFSET = 10  # between the chart title and the view
LEGEND_OFFSET = 16  # between the x axis and a bottom legend
LEGEND_LABEL = 10  # legend label font size
LEGEND_ROW = 16  # legend row height
LEGEND_ROWS = 8  # rows a legend shows before "+N more"
LEGEND_LIMIT = 160  # legend label limit, px (Vega's default)
ANGLE = 40  # degrees of rotated (period) labels
_SIN, _COS = math.sin(math.radians(ANGLE)), math.cos(math.radians(ANGLE))


@dataclass
class XAxis:
    """A bottom axis: tick positions (px from the view's left), their labels and how to draw them."""

    positions: list[float]
    labels: list[str]
    title: str | None = None
    grid: bool = False
    rotate: bool = False  # period labels at -40 degrees
    flush: bool = False  # continuous: the end labels stay inside the view (Vega's labelFlush)


@dataclass
class YAxis:
    positions: list[float]
    labels: list[str]
    title: str | None = None
    grid: bool = False


@dataclass
class Legend:
    entries: list[tuple[str, str]]  # (label, colour)
    symbol: str = "circle"  # or "square"
    title: str | None = None


def _parity(n: int, overlaps) -> list[int]:
    """Indices of the labels Vega's "parity" overlap strategy keeps: every other one until none overlap."""
    keep = list(range(n))
    while len(keep) > 2 and any(overlaps(a, b) for a, b in zip(keep, keep[1:])):
        keep = keep[::2]
    return keep


class Frame:
    """The view of one chart (width x height px) with its title, axes and legend around it.

    Marks are drawn in view coordinates (origin at the view's top left, y down) and added with
    `add`; `svg()` lays everything out and returns the whole chart."""

    def __init__(self, theme: Theme, title: str, width: float, height: float):
        self.t, self.title, self.w, self.h = theme, title, width, height
        self.x: XAxis | None = None
        self.y: YAxis | None = None
        self.legend: Legend | None = None
        self.marks: list[str] = []

    def add(self, *parts: str) -> None:
        self.marks.extend(parts)

    # -- axes ----------------------------------------------------------------------------------
    def _x_axis(self) -> tuple[list[str], float, float, float]:
        """The x axis's SVG (view coordinates), its depth below the view and overflow left and right."""
        ax, t, w, h = self.x, self.t, self.w, self.h
        fs = t.label_size
        labels = [truncate(s, t.label_limit, fs) for s in ax.labels]
        widths = [text_width(s, fs) for s in labels]
        pos = ax.positions
        grid, out = [], []
        if ax.grid:
            grid.append(f'<g class="role-axis-grid"><path stroke="{t.grid_color}" d="' + "".join(f"M{_n(round(p) + .5)},0V{_n(h)}" for p in pos) + '"/></g>')
        out.append(f'<g class="role-axis-tick"><path stroke="{t.tick_color}" d="' + "".join(f"M{_n(round(p) + .5)},{_n(h)}v{TICK}" for p in pos) + '"/></g>')
        out.append(f'<g class="role-axis-domain"><path stroke="{t.domain_color}" d="M0,{_n(h + .5)}H{_n(w + .5)}"/></g>')
        y0 = h + TICK + LABEL_PAD
        texts, left, right = [], 0.0, 0.0
        if ax.rotate:
            keep = _parity(len(pos), lambda a, b: (pos[b] - pos[a]) * _SIN < fs * 1.05)
            depth = max((widths[i] * _SIN + fs * _COS for i in keep), default=0.0)
            for i in keep:
                left = max(left, widths[i] * _COS - pos[i])
                texts.append(f'<text text-anchor="end" transform="translate({_n(pos[i])},{_n(y0)}) rotate(-{ANGLE})" y="{_n(fs * .8)}">{_x(labels[i])}</text>')
        else:
            def bounds(i):
                if ax.flush and pos[i] <= 0.5:
                    return pos[i], pos[i] + widths[i], "start"
                if ax.flush and pos[i] >= w - 0.5:
                    return pos[i] - widths[i], pos[i], "end"
                return pos[i] - widths[i] / 2, pos[i] + widths[i] / 2, "middle"
            keep = _parity(len(pos), lambda a, b: bounds(a)[1] + 2 > bounds(b)[0])
            depth = fs if keep else 0.0
            for i in keep:
                a, b, anchor = bounds(i)
                left, right = max(left, -a), max(right, b - w)
                anchor_attr = "" if anchor == "middle" else f' text-anchor="{anchor}"'
                texts.append(f'<text x="{_n(pos[i])}" y="{_n(y0 + fs * .8)}"{anchor_attr}>{_x(labels[i])}</text>')
        if texts:
            out.append(f'<g class="role-axis-label" fill="{t.label_color}" font-size="{fs}" text-anchor="middle">' + "".join(texts) + "</g>")
        depth = TICK + LABEL_PAD + depth
        if ax.title:
            ts = t.axis_title_size
            title = truncate(ax.title, w, ts, True)
            out.append(f'<g class="role-axis-title"><text x="{_n(w / 2)}" y="{_n(h + depth + TITLE_PAD + ts * .8)}" text-anchor="middle" '
                       f'font-size="{ts}" font-weight="bold" fill="{t.axis_title_color}">{_x(title)}</text></g>')
            depth += TITLE_PAD + ts
        return grid + out, depth, left, right

    def _y_axis(self) -> tuple[list[str], float]:
        """The y axis's SVG (view coordinates) and its width left of the view."""
        ax, t, w, h = self.y, self.t, self.w, self.h
        fs = t.label_size
        labels = [truncate(s, t.label_limit, fs) for s in ax.labels]
        pos = ax.positions
        grid, out = [], []
        if ax.grid:
            grid.append(f'<g class="role-axis-grid"><path stroke="{t.grid_color}" d="' + "".join(f"M0,{_n(round(p) + .5)}H{_n(w)}" for p in pos) + '"/></g>')
        out.append(f'<g class="role-axis-tick"><path stroke="{t.tick_color}" d="' + "".join(f"M-{TICK},{_n(round(p) + .5)}h{TICK}" for p in pos) + '"/></g>')
        out.append(f'<g class="role-axis-domain"><path stroke="{t.domain_color}" d="M.5,0V{_n(h + .5)}"/></g>')
        keep = _parity(len(pos), lambda a, b: abs(pos[b] - pos[a]) < fs)
        x0 = -(TICK + LABEL_PAD)
        width = max((text_width(labels[i], fs) for i in keep), default=0.0)
        if keep:
            out.append(f'<g class="role-axis-label" fill="{t.label_color}" font-size="{fs}" text-anchor="end">'
                       + "".join(f'<text x="{x0}" y="{_n(pos[i] + fs * .35)}">{_x(labels[i])}</text>' for i in keep) + "</g>")
        extent = TICK + LABEL_PAD + width
        if ax.title:
            ts = t.axis_title_size
            title = truncate(ax.title, h, ts, True)
            x = -(extent + TITLE_PAD + ts * .2)
            out.append(f'<g class="role-axis-title"><text transform="translate({_n(x)},{_n(h / 2)}) rotate(-90)" text-anchor="middle" '
                       f'font-size="{ts}" font-weight="bold" fill="{t.axis_title_color}">{_x(title)}</text></g>')
            extent += TITLE_PAD + ts
        return grid + out, extent

    def _legend(self, top: float) -> tuple[list[str], float]:
        """The legend's SVG (view coordinates, from `top` down) and its height."""
        lg, t = self.legend, self.t
        fs = LEGEND_LABEL
        out: list[str] = []
        y = top
        if lg.title:
            ts = t.axis_title_size
            out.append(f'<g class="role-legend-title"><text y="{_n(y + ts * .8)}" font-size="{ts}" font-weight="bold" fill="{t.legend_title_color}">{_x(lg.title)}</text></g>')
            y += ts + 5
        labels = [truncate(s, LEGEND_LIMIT, fs) for s, _ in lg.entries]
        col = max((text_width(s, fs) for s in labels), default=0.0) + 10 + 4 + 12  # symbol, gap, column padding
        cols = max(1, int((self.w + 12) // col)) if len(labels) > 1 else 1
        if len(labels) <= cols:  # one row: entries side by side at their own widths
            xs, x = [], 0.0
            for s in labels:
                xs.append(x)
                x += text_width(s, fs) + 10 + 4 + 12
            places = [(xs[i], 0) for i in range(len(labels))]
            shown = len(labels)
        else:
            shown = len(labels) if len(labels) <= cols * LEGEND_ROWS else cols * LEGEND_ROWS - 1
            places = [((i % cols) * col, i // cols) for i in range(shown + (shown < len(labels)))]
        symbols, texts = [], []
        for i in range(shown):
            x, row = places[i]
            cy = y + row * LEGEND_ROW + 5
            color = lg.entries[i][1]
            if lg.symbol == "square":
                symbols.append(f'<rect x="{_n(x)}" y="{_n(cy - 5)}" width="10" height="10" fill="{color}"/>')
            else:
                symbols.append(f'<circle cx="{_n(x + 5)}" cy="{_n(cy)}" r="5" fill="{color}"/>')
            texts.append(f'<text x="{_n(x + 14)}" y="{_n(cy + fs * .35)}">{_x(labels[i])}</text>')
        if shown < len(labels):
            x, row = places[shown]
            texts.append(f'<text x="{_n(x)}" y="{_n(y + row * LEGEND_ROW + 5 + fs * .35)}" font-style="italic">+{len(labels) - shown:,} more</text>')
        rows = (places[-1][1] + 1) if places else 0
        out.append('<g class="role-legend-symbol">' + "".join(symbols) + "</g>")
        out.append(f'<g class="role-legend-label" fill="{t.legend_label_color}" font-size="{fs}">' + "".join(texts) + "</g>")
        return out, (y - top) + rows * LEGEND_ROW

    # -- the whole chart -----------------------------------------------------------------------
    def svg(self) -> str:
        t = self.t
        back: list[str] = []  # axes are drawn behind the marks (Vega-Lite's zindex 0)
        left = right = 0.0
        bottom = 0.0
        if self.y is not None:
            parts, left = self._y_axis()
            back.extend(parts)
        if self.x is not None:
            parts, bottom, over_l, over_r = self._x_axis()
            back.extend(parts)
            left, right = max(left, over_l), max(right, over_r)
        front = list(self.marks)
        if self.legend is not None and self.legend.entries:
            parts, height = self._legend(self.h + bottom + LEGEND_OFFSET)
            front.extend(parts)
            bottom += LEGEND_OFFSET + height
        top = PAD + (t.title_size + TITLE_OFFSET if self.title else 0)
        ox = math.ceil(PAD + left)
        oy = math.ceil(top)
        width = ox + math.ceil(self.w + right) + PAD
        height = oy + math.ceil(self.h + bottom) + PAD
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="marks" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
                f'font-family="{_x(t.font)}">')
        title = ""
        if self.title:
            text = truncate(self.title, width - 2 * PAD, t.title_size, True)
            title = (f'<g class="role-title-text"><text x="{PAD}" y="{_n(PAD + t.title_size * .8)}" font-size="{t.title_size}" '
                     f'font-weight="bold" fill="{t.title_color}">{_x(text)}</text></g>')
        return head + title + f'<g transform="translate({ox},{oy})" fill="none">' + "".join(back) + "".join(front) + "</g></svg>"


# ---- mark helpers ---------------------------------------------------------------------------------
def _polyline(points: list[tuple[float, float]]) -> str:
    return "M" + "L".join(f"{_n(x)},{_n(y)}" for x, y in points)


def _symbol(shape: str, x: float, y: float, size: float) -> str:
    """Path data of a Vega symbol of area-ish `size` centred on (x, y)."""
    r = math.sqrt(size) / 2
    if shape == "square":
        return f"M{_n(x - r)},{_n(y - r)}h{_n(2 * r)}v{_n(2 * r)}h{_n(-2 * r)}Z"
    if shape == "triangle-down":
        h = math.sqrt(3) / 2 * r
        return f"M{_n(x)},{_n(y + h)}L{_n(x + r)},{_n(y - h)}L{_n(x - r)},{_n(y - h)}Z"
    if shape == "cross":
        s = r / 2.5
        pts = [(-r, -s), (-r, s), (-s, s), (-s, r), (s, r), (s, s), (r, s), (r, -s), (s, -s), (s, -r), (-s, -r), (-s, -s)]
        return _polyline([(x + a, y + b) for a, b in pts]) + "Z"
    return f"M{_n(x + r)},{_n(y)}A{_n(r)},{_n(r)},0,1,1,{_n(x - r)},{_n(y)}A{_n(r)},{_n(r)},0,1,1,{_n(x + r)},{_n(y)}Z"


def _y_linear(frame: Frame, values, title: str | None, *, domain=None) -> Linear:
    scale = Linear(domain or linear_domain(values), (frame.h, 0), math.ceil(frame.h / 40))
    ticks_ = scale.ticks()
    frame.y = YAxis([p for p, _ in ticks_], [s for _, s in ticks_], title, grid=True)
    return scale


def _x_linear(frame: Frame, values, title: str | None, *, domain=None, do_nice=True) -> Linear:
    scale = Linear(domain or linear_domain(values), (0, frame.w), math.ceil(frame.w / 40), do_nice=do_nice)
    ticks_ = scale.ticks()
    frame.x = XAxis([p for p, _ in ticks_], [s for _, s in ticks_], title, grid=True, flush=True)
    return scale


def _value(v) -> str:
    return "null" if v is None else format_number(v, 2)


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


# ---- the chart kinds ------------------------------------------------------------------------------
def draw_trend(theme: Theme, title: str, rows: list[dict], *, value_name: str, unit: str | None, band: tuple[float, float] | None,
               target: float | None, width: float, height: float, color: str, band_color: str, rule_color: str) -> str:
    """A figure over periods: line with points, the at-risk band and the dashed target rule."""
    f = Frame(theme, title, width, height)
    periods = list(dict.fromkeys(r["period"] for r in rows))
    xs = dict(zip(periods, point_positions(len(periods), width)))
    f.x = XAxis([xs[p] for p in periods], [str(p) for p in periods], None, rotate=True)
    extra = [target] + (list(band) if band else [])
    y = _y_linear(f, [r["value"] for r in rows if _finite(r["value"])] + [v for v in extra if v is not None], unit or None)
    if band:
        a, b = sorted((y(band[0]), y(band[1])))
        f.add(f'<rect x="0" y="{_n(a)}" width="{_n(width)}" height="{_n(b - a)}" fill="{band_color}" fill-opacity="0.14"/>')
    pts = [(xs[r["period"]], y(r["value"]), r) for r in rows if _finite(r["value"])]
    if len(pts) > 1:
        f.add(f'<path d="{_polyline([(a, b) for a, b, _ in pts])}" stroke="{color}" stroke-width="2"/>')
    name = _x(value_name)
    f.add(f'<g fill="{color}">' + "".join(
        f'<circle cx="{_n(a)}" cy="{_n(b)}" r="2.7"><title>Period: {_x(str(r["period"]))}\n{name}: {_value(r["value"])}\nn: {_x(str(r.get("n")))}</title></circle>'
        for a, b, r in pts) + "</g>")
    if target is not None:
        ty = round(y(target)) + .5
        f.add(f'<path d="M0,{_n(ty)}H{_n(width)}" stroke="{rule_color}" stroke-dasharray="6,4"/>')
    return f.svg()


def draw_metric(theme: Theme, title: str, rows: list[dict], *, periods: list[str], unit: str | None, legend_title: str,
                width: float, height: float) -> str:
    """One metric across value streams and periods: a line (and points) per value stream, a colour legend."""
    f = Frame(theme, title, width, height)
    xs = dict(zip(periods, point_positions(len(periods), width)))
    f.x = XAxis([xs[p] for p in periods], [str(p) for p in periods], None, rotate=True)
    y = _y_linear(f, [r["value"] for r in rows if _finite(r["value"])], unit or None)
    series: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        series.setdefault(r["value_stream"], [])
        if _finite(r["value"]) and r["period"] in xs:
            series[r["value_stream"]].append((xs[r["period"]], y(r["value"])))
    names = sorted(series)
    palette = theme.category
    many = len(names) > 20
    lines: dict[str, list[str]] = {}
    dots: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        color = palette[i % len(palette)]
        pts = sorted(series[name])
        if len(pts) > 1:
            lines.setdefault(color, []).append(_polyline(pts))
        if not many or len(pts) == 1:
            dots.setdefault(color, []).append("".join(f"M{_n(a)},{_n(b)}h0" for a, b in pts))
    # One path per colour (series of a colour never differ in style): a few elements even for hundreds of lines.
    style = ' stroke-width="1.5" stroke-opacity="0.75"' if many else ' stroke-width="2"'
    f.add(*(f'<path d="{"".join(d)}" stroke="{c}"{style}/>' for c, d in lines.items()))
    f.add(*(f'<path d="{"".join(d)}" stroke="{c}" stroke-width="5.4" stroke-linecap="round"/>' for c, d in dots.items()))
    f.legend = Legend([(n, palette[i % len(palette)]) for i, n in enumerate(names)], "circle", legend_title)
    return f.svg()


def draw_flow_time(theme: Theme, title: str, bins: tuple[float, float, float, list[int]], marks: list[dict], *, width: float, height: float,
                   color: str, rule_color: str, x_title: str, y_title: str) -> str:
    """A histogram of flow times (`histogram_bins`: Vega's nice bins, at most 30) with dashed p50 and p85 rules."""
    f = Frame(theme, title, width, height)
    start, stop, step, counts = bins
    rules = [m for m in marks if _finite(m.get("days"))]
    d0 = min([start] + [m["days"] for m in rules])
    d1 = max([stop] + [m["days"] for m in rules])
    x = _x_linear(f, [], x_title, domain=(d0, d1), do_nice=False)
    y = _y_linear(f, counts, y_title)
    bars = []
    y0 = y(0)
    for i, c in enumerate(counts):
        if not c:
            continue
        a, b = start + i * step, start + (i + 1) * step
        xa, xb, yc = x(a) + 1, x(b), y(c)
        bars.append(f'<rect x="{_n(xa)}" y="{_n(yc)}" width="{_n(max(xb - xa, 0))}" height="{_n(y0 - yc)}">'
                    f'<title>Days: {format_number(a, 2 if step < 1 else 0)} – {format_number(b, 2 if step < 1 else 0)}\nItems: {c:,}</title></rect>')
    f.add(f'<g fill="{color}">' + "".join(bars) + "</g>")
    for m in rules:
        xr = round(x(m["days"])) + .5
        f.add(f'<path d="M{_n(xr)},0V{_n(height)}" stroke="{rule_color}" stroke-dasharray="4,3"><title>{_x(str(m["label"]))}: {m["days"]:.1f}</title></path>')
    return f.svg()


def draw_cfd(theme: Theme, title: str, rows: list[dict], *, states: list[str], colors: list[str], width: float, height: float, y_title: str) -> str:
    """Cumulative flow: per day, stacked areas (the first state in `rows`' order at the bottom), a time axis."""
    f = Frame(theme, title, width, height)
    by_day: dict[str, dict[str, float]] = {}
    for r in sorted(rows, key=lambda r: r.get("order", 0)):
        by_day.setdefault(r["day"], {})[r["state"]] = r["items"] if _finite(r["items"]) else 0
    days = sorted(by_day)
    dates = [dt.date.fromisoformat(str(d)[:10]) for d in days]
    stack_order = sorted({r["state"]: r.get("order", 0) for r in rows}.items(), key=lambda kv: kv[1])
    order = [s for s, _ in stack_order]
    tops = [sum(by_day[d].values()) for d in days]
    y = _y_linear(f, tops, y_title)
    if dates:
        t0, t1 = dates[0], dates[-1]
        span = (t1 - t0).days or 1
        px = [(d - t0).days / span * width for d in dates] if t1 > t0 else [width / 2] * len(dates)
        tk = time_ticks(t0, t1, math.ceil(width / 40)) if t1 > t0 else [(t0, _time_label(t0))]
        f.x = XAxis([((d - t0).days / span * width) if t1 > t0 else width / 2 for d, _ in tk], [s for _, s in tk], None, grid=True, flush=True)
        base = [0.0] * len(days)
        for state in order:
            upper = [b + by_day[d].get(state, 0) for b, d in zip(base, days)]
            top_pts = [(a, y(v)) for a, v in zip(px, upper)]
            bot_pts = [(a, y(v)) for a, v in zip(reversed(px), reversed(base))]
            color = colors[states.index(state)] if state in states else theme.category[0]
            f.add(f'<path d="{_polyline(top_pts + bot_pts)}Z" fill="{color}"/>')
            base = upper
    else:
        f.x = XAxis([], [], None)
    f.legend = Legend(list(zip(states, colors)), "circle")
    return f.svg()


def draw_distribution(theme: Theme, title: str, rows: list[dict], *, types: list[str], mixes: list[str], colors: list[str],
                      width: float, height: float, x_title: str) -> str:
    """Grouped horizontal bars: per work type, a bar per mix (delivered, investment target), 0-100 %."""
    f = Frame(theme, title, width, height)
    present = [t for t in types if any(r["type"] == t for r in rows)]
    present_mix = [m for m in mixes if any(r["mix"] == m for r in rows)]
    starts, band = band_positions(len(present), height)
    sub_starts, sub = band_positions(len(present_mix), band, 0, 0)
    x = _x_linear(f, [], x_title, domain=(0, 100))
    f.y = YAxis([s + band / 2 for s in starts], present)
    bars = []
    for r in rows:
        if r["type"] not in present or not _finite(r["share"]):
            continue
        yb = starts[present.index(r["type"])] + sub_starts[present_mix.index(r["mix"])]
        x0, x1 = sorted((x(0), x(r["share"])))
        color = colors[mixes.index(r["mix"])]
        bars.append(f'<rect x="{_n(x0)}" y="{_n(yb)}" width="{_n(x1 - x0)}" height="{_n(sub)}" fill="{color}">'
                    f'<title>{_x(r["type"])}, {_x(r["mix"])}: {r["share"]:.1f}%</title></rect>')
    f.add(*bars)
    f.legend = Legend(list(zip(mixes, colors)), "square")
    return f.svg()


def draw_tiers(theme: Theme, title: str, rows: list[dict], *, tiers: list[str], colors: dict[str, str], shapes: dict[str, str],
               width: float, height: float, x_title: str) -> str:
    """A symbol per figure at its tier (point scales both ways), coloured and shaped by tier."""
    f = Frame(theme, title, width, height)
    metrics = sorted({r["metric"] for r in rows})
    xs = dict(zip(tiers, point_positions(len(tiers), width)))
    ys = dict(zip(metrics, point_positions(len(metrics), height)))
    f.x = XAxis([xs[t] for t in tiers], tiers, x_title)
    f.y = YAxis([ys[m] for m in metrics], metrics)
    marks = []
    for r in rows:
        if r["tier"] not in xs:
            continue
        d = _symbol(shapes.get(r["tier"], "circle"), xs[r["tier"]], ys[r["metric"]], 220)
        marks.append(f'<path d="{d}" fill="{colors.get(r["tier"], theme.category[0])}" fill-opacity="0.7">'
                     f'<title>{_x(r["metric"])}: {_x(r["tier"])} (window value {_x(str(r["value"]))})</title></path>')
    f.add(*marks)
    return f.svg()


def draw_vsm(theme: Theme, title: str, rows: list[dict], *, steps: list[str], parts: list[str], colors: list[str],
             width: float, height: float, x_title: str) -> str:
    """Stacked horizontal bars: per step, process time then wait, in hours."""
    f = Frame(theme, title, width, height)
    totals: dict[str, float] = {}
    for r in rows:
        if _finite(r["hours"]):
            totals[r["step"]] = totals.get(r["step"], 0.0) + max(r["hours"], 0.0)
    starts, band = band_positions(len(steps), height)
    x = _x_linear(f, list(totals.values()), x_title)
    f.y = YAxis([s + band / 2 for s in starts], steps)
    at = {s: 0.0 for s in steps}
    bars = []
    for r in sorted(rows, key=lambda r: r.get("order", 0)):
        if r["step"] not in at or not _finite(r["hours"]):
            continue
        a = at[r["step"]]
        b = a + max(r["hours"], 0.0)
        at[r["step"]] = b
        color = colors[parts.index(r["part"])] if r["part"] in parts else theme.category[0]
        yb = starts[steps.index(r["step"])]
        bars.append(f'<rect x="{_n(x(a))}" y="{_n(yb)}" width="{_n(x(b) - x(a))}" height="{_n(band)}" fill="{color}">'
                    f'<title>{_x(r["step"])}, {_x(r["part"])}: {r["hours"]:.1f} h</title></rect>')
    f.add(*bars)
    f.legend = Legend(list(zip(parts, colors)), "square")
    return f.svg()
