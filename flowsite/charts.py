"""Charts: Vega-Lite specs built with Altair, and their static SVG drawn at build time.

Pure functions, model in, spec out. Each spec is a `Spec`: the Vega-Lite dict (embedded beside the
page as JSON, so the site's own Vega bundle can make the chart interactive) that also knows how to
draw itself as static inline SVG with `svgchart` from the same rows and options.
"""
from __future__ import annotations

import hashlib
import html
import math
import pickle

import numpy as np
import polars as pl

from . import svgchart
from .scorecard import Figure, Scorecard, format_value

PALETTE = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"]
TIER_COLORS = {"elite": "#047857", "high": "#2563eb", "medium": "#b45309", "low": "#b91c1c"}
CONFIG = {
    "background": None,
    # Text is measured at build time (svgchart's glyph widths) and drawn by the reader's browser: name fonts of the same,
    # wide metrics everywhere (Verdana on Windows/macOS, DejaVu Sans on Linux) so labels never overflow.
    "font": "Verdana, 'DejaVu Sans', sans-serif",
    "view": {"stroke": None},
    "axis": {"labelColor": "#4b5563", "titleColor": "#374151", "gridColor": "#e5e7eb", "domainColor": "#9ca3af", "tickColor": "#9ca3af", "labelFontSize": 11, "titleFontSize": 11, "labelLimit": 260},
    "legend": {"labelColor": "#374151", "titleColor": "#374151", "orient": "bottom"},
    "title": {"color": "#111827", "fontSize": 13, "anchor": "start"},
    "range": {"category": PALETTE},
}
WIDTH = 560  # two side by side on a wide screen; SVGs scale down to a phone
WIDE = 880  # one chart across the page (metric pages)
THEME = svgchart.Theme.from_config(CONFIG)
TIER_ORDER = ["low", "medium", "high", "elite"]
TIER_SHAPES = dict(zip(TIER_ORDER, ["cross", "triangle-down", "square", "circle"]))


class Spec(dict):
    """A Vega-Lite spec (the dict itself, serialised unchanged) with the drawer of its static SVG:
    `draw()` calls `svgchart` with the rows and options the spec was built from."""

    def __init__(self, spec: dict, draw, **options):
        super().__init__(spec)
        self._draw, self._options = draw, options

    def draw(self) -> str:
        return self._draw(THEME, self.get("title", ""), **self._options)


# Altair deep-copies and converts inline rows at every step; templates are built around one-row
# markers instead and each chart's rows put in their place (the spec is the same, built in a fraction
# of the time).
_ROWS_KEY = "__flowsite_rows__"


def altair_version() -> str:
    """The installed Altair's version, without importing it."""
    import importlib.metadata

    return importlib.metadata.version("altair")


def _markers(alt, n: int) -> list:
    """Where each of `n` lists of rows goes: the `i`th marker stands for `datas[i]`."""
    return [alt.Data(values=[{_ROWS_KEY: i}]) for i in range(n)]


_TEMPLATES: dict[tuple, dict] = {}
_TEMPLATES_LOADED: set[tuple] = set()  # keys that came from `load_templates`


def load_templates(data: bytes | None) -> None:
    """Templates an earlier process made (see `templates_made`): Altair takes about a tenth of a
    second for the first chart of each kind, which a rebuild of one page pays in full."""
    if not data:
        return
    try:
        got = pickle.loads(data)
    except Exception:  # noqa: BLE001 - a damaged file is no templates
        return
    if isinstance(got, dict) and all(isinstance(k, tuple) and isinstance(v, dict) for k, v in got.items()):
        for key, tpl in got.items():
            if key not in _TEMPLATES:
                _TEMPLATES[key] = tpl
                _TEMPLATES_LOADED.add(key)


def templates_made() -> bytes | None:
    """The templates of this process, pickled, when it made any `load_templates` did not give it."""
    if set(_TEMPLATES) <= _TEMPLATES_LOADED:
        return None
    return pickle.dumps(_TEMPLATES, protocol=pickle.HIGHEST_PROTOCOL)


def _fill(node, datas: list[list]):
    """A copy of a template with its row markers replaced by the rows of this chart."""
    if isinstance(node, dict):
        v = node.get("values")
        if isinstance(v, list) and len(v) == 1 and isinstance(v[0], dict) and _ROWS_KEY in v[0]:
            return {k: (datas[v[0][_ROWS_KEY]] if k == "values" else _fill(c, datas)) for k, c in node.items()}
        return {k: _fill(c, datas) for k, c in node.items()}
    if isinstance(node, list):
        return [_fill(c, datas) for c in node]
    return node


def _templated(key: tuple, make, datas: list[list], title: str, description: str) -> dict:
    """The spec `make(alt, markers)` builds, made with Altair once per chart kind and `key` (everything
    else that shapes it), then filled with this chart's rows, title and description: Altair costs
    tens of milliseconds a chart, which hundreds of scorecards multiply."""
    tpl = _TEMPLATES.get(key)
    if tpl is None:
        # Imported here: a build whose templates all came from the cache never needs Altair (a
        # fifth of a second of imports, a sixth of a small rebuild).
        import altair as alt

        # Without Altair's schema validation of every object (validation only checks; the spec
        # is the same).
        with alt.utils.schemapi.debug_mode(False):
            tpl = make(alt, _markers(alt, len(datas))).properties(title="", description="").to_dict(validate=False)
        tpl.pop("$schema", None)
        _TEMPLATES[key] = tpl
    spec = _fill(tpl, datas)
    spec["title"], spec["description"], spec["config"] = title, description, CONFIG
    return spec


def trend_spec(fig: Figure, vs_name: str) -> dict:
    """A figure over the window's periods, with its target as a rule."""
    rows = [{"period": p.period, "value": p.value, "n": p.n} for p in fig.trend]
    # The at-risk band: between the target and the point where a figure turns off track.
    has_band = fig.target is not None and fig.at_risk is not None and fig.at_risk != fig.target
    datas = [rows]
    if has_band:
        datas.append([{"lo": min(fig.target, fig.at_risk), "hi": max(fig.target, fig.at_risk)}])
    if fig.target is not None:
        datas.append([{"target": fig.target}])

    def make(alt, d):
        line = alt.Chart(d[0]).mark_line(point=True, color=PALETTE[0]).encode(
            x=alt.X("period:O", title=None, sort=None, axis=alt.Axis(labelAngle=-40)),
            y=alt.Y("value:Q", title=fig.unit or None),
            tooltip=[alt.Tooltip("period:O", title="Period"), alt.Tooltip("value:Q", title=fig.name, format=",.2f"), alt.Tooltip("n:Q", title="n")],
        )
        layers = [line]
        if has_band:
            layers.insert(0, alt.Chart(d[1]).mark_rect(color="#d97706", opacity=0.14).encode(y="lo:Q", y2="hi:Q"))
        if fig.target is not None:
            layers.append(alt.Chart(d[-1]).mark_rule(strokeDash=[6, 4], color="#6b7280").encode(y="target:Q"))
        return alt.layer(*layers).properties(width=WIDTH, height=180)
    values = ", ".join(f"{p.period}: {format_value(p.value, fig.unit, fig.decimals)}" for p in fig.trend)
    desc = f"{fig.name} for {vs_name} by period. {values}." + (f" Target {fig.target_display}." if fig.target is not None else "")
    if has_band:
        desc += f" The shaded band is at risk, up to {format_value(fig.at_risk, fig.unit, fig.decimals)}."
    spec = _templated(("trend", fig.unit, fig.name, has_band, fig.target is not None), make, datas, f"{fig.name} — {vs_name}", desc)
    return Spec(spec, svgchart.draw_trend, rows=rows, value_name=fig.name, unit=fig.unit or None, band=(fig.target, fig.at_risk) if has_band else None,
                target=fig.target, width=WIDTH, height=180, color=PALETTE[0], band_color="#d97706", rule_color="#6b7280")


def metric_spec(metric_name: str, unit: str, figures: pl.DataFrame, names: dict[str, str], labels: list[str]) -> dict:
    """One metric across value streams and periods (rows: value_stream, period, value, n)."""
    rows = [{"value_stream": names.get(v, v), "period": p, "value": val, "n": n} for v, p, val, n in figures.select("value_stream", "period", "value", "n").iter_rows() if p in labels]

    def make(alt, d):
        return alt.Chart(d[0]).mark_line(point=True).encode(
            x=alt.X("period:O", title=None, sort=labels, axis=alt.Axis(labelAngle=-40)),
            y=alt.Y("value:Q", title=unit or None),
            color=alt.Color("value_stream:N", title="Value stream"),
            tooltip=[alt.Tooltip("value_stream:N", title="Value stream"), alt.Tooltip("period:O", title="Period"), alt.Tooltip("value:Q", title=metric_name, format=",.2f"), alt.Tooltip("n:Q", title="n")],
        ).properties(width=WIDE, height=260)
    latest = {r["value_stream"]: r["value"] for r in rows if r["period"] == labels[-1]}
    desc = f"{metric_name} by value stream over {labels[0]} to {labels[-1]}. Latest: " + "; ".join(f"{k}: {format_value(v, unit)}" for k, v in sorted(latest.items())) + "."
    spec = _templated(("metric", metric_name, unit, tuple(labels)), make, [rows], f"{metric_name} by value stream", desc)
    return Spec(spec, svgchart.draw_metric, rows=rows, periods=labels, unit=unit or None, legend_title="Value stream", width=WIDE, height=260)


def flow_time_spec(days, vs_name: str, p50: float | None, p85: float | None) -> dict:
    """Flow times (DAYS: a sequence of floats) as a histogram. Binned here, as the static SVG is:
    the spec carries a row per bin, not one per item (a large value stream's spec was a megabyte
    of JSON, made on every build that drew it and fetched by every interactive view of it)."""
    # Hundredths of a day (a quarter of an hour) are the chart's precision.
    start, stop, step, counts = svgchart.histogram_bins(np.round(np.asarray(days, dtype=float), 2), 30)
    # Edges rounded to the step's precision: 0.1 + 0.2 is written 0.3, as Vega labels it.
    digits = max(0, -math.floor(math.log10(step))) + 2
    rows = [{"from": round(start + i * step, digits), "to": round(start + (i + 1) * step, digits), "items": c} for i, c in enumerate(counts) if c]
    marks = [{"label": "p50", "days": p50}, {"label": "p85", "days": p85}]
    marks = [m for m in marks if m["days"] is not None]

    def make(alt, d):
        hist = alt.Chart(d[0]).mark_bar(color=PALETTE[0]).encode(
            x=alt.X("from:Q", bin="binned", title="flow time (days)"),
            x2="to:Q",
            y=alt.Y("items:Q", title="items"),
            tooltip=[alt.Tooltip("from:Q", title="From (days)"), alt.Tooltip("to:Q", title="To (days)"), alt.Tooltip("items:Q", title="Items")],
        )
        layers = [hist]
        if marks:
            layers.append(alt.Chart(d[1]).mark_rule(color="#b91c1c", strokeDash=[4, 3]).encode(x="days:Q", tooltip=["label:N", alt.Tooltip("days:Q", format=".1f")]))
        return alt.layer(*layers).properties(width=WIDTH, height=180)
    desc = f"Distribution of flow time of {len(days)} items completed in the window for {vs_name}." + (f" Median {p50:.1f} days, 85th percentile {p85:.1f} days." if p50 is not None and p85 is not None else "")
    spec = _templated(("flow_time", bool(marks)), make, [rows, marks] if marks else [rows], f"Flow time distribution — {vs_name}", desc)
    return Spec(spec, svgchart.draw_flow_time, bins=(start, stop, step, counts), marks=marks, width=WIDTH, height=180, color=PALETTE[0],
                rule_color="#b91c1c", x_title="flow time (days)", y_title="items")


def cfd_spec(daily: list[dict], vs_name: str) -> dict:
    """Cumulative flow: per day, items done (cumulative) and in progress, stacked."""
    def make(alt, d):
        return alt.Chart(d[0]).mark_area().encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("items:Q", stack=True, title="items"),
            color=alt.Color("state:N", sort=["in progress", "done"], scale=alt.Scale(domain=["in progress", "done"], range=[PALETTE[1], PALETTE[2]]), title=None),
            order=alt.Order("order:Q"),
            tooltip=[alt.Tooltip("day:T"), "state:N", "items:Q"],
        ).properties(width=WIDTH, height=200)
    last = {r["state"]: r["items"] for r in daily[-2:]} if daily else {}
    desc = f"Cumulative flow diagram for {vs_name}: completed items accumulate, the band above is work in progress." + (f" At the end: {last.get('done', 0)} done, {last.get('in progress', 0)} in progress." if last else "")
    spec = _templated(("cfd",), make, [daily], f"Cumulative flow — {vs_name}", desc)
    return Spec(spec, svgchart.draw_cfd, rows=daily, states=["in progress", "done"], colors=[PALETTE[1], PALETTE[2]], width=WIDTH, height=200, y_title="items")


def distribution_spec(actual: dict[str, float | None], intended: dict[str, float], vs_name: str) -> dict:
    rows = []
    for t in ("feature", "defect", "risk", "debt"):
        if actual.get(t) is not None:
            rows.append({"type": t, "mix": "delivered", "share": round(actual[t], 1)})
        if t in intended:
            rows.append({"type": t, "mix": "investment target", "share": round(intended[t] * 100, 1)})
    def make(alt, d):
        return alt.Chart(d[0]).mark_bar().encode(
            y=alt.Y("type:N", title=None, sort=["feature", "defect", "risk", "debt"]),
            yOffset=alt.YOffset("mix:N"),
            x=alt.X("share:Q", title="% of completed items", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("mix:N", title=None, scale=alt.Scale(domain=["delivered", "investment target"], range=[PALETTE[0], "#9ca3af"])),
            tooltip=["type:N", "mix:N", alt.Tooltip("share:Q", format=".1f")],
        ).properties(width=WIDTH, height=200)
    desc = f"Flow distribution of {vs_name} against its investment mix: " + "; ".join(f"{r['type']} {r['mix']} {r['share']}%" for r in rows) + "."
    spec = _templated(("distribution",), make, [rows], f"Flow distribution vs investment — {vs_name}", desc)
    return Spec(spec, svgchart.draw_distribution, rows=rows, types=["feature", "defect", "risk", "debt"], mixes=["delivered", "investment target"],
                colors=[PALETTE[0], "#9ca3af"], width=WIDTH, height=200, x_title="% of completed items")


def tier_spec(card: Scorecard, benchmark_title: str) -> dict:
    order = TIER_ORDER
    rows = [{"metric": f.name, "tier": f.tier, "value": f.display if f.window_value is None else format_value(f.window_value, f.unit, f.decimals)} for f in card.figures if f.tier]
    height = 30 * max(len(rows), 1) + 20

    def make(alt, d):
        return alt.Chart(d[0]).mark_point(filled=True, size=220).encode(
            x=alt.X("tier:N", sort=order, scale=alt.Scale(domain=order), title=f"tier ({benchmark_title})", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("metric:N", title=None),
            color=alt.Color("tier:N", scale=alt.Scale(domain=list(TIER_COLORS), range=list(TIER_COLORS.values())), legend=None),
            shape=alt.Shape("tier:N", scale=alt.Scale(domain=order, range=[TIER_SHAPES[t] for t in order]), legend=None),
            tooltip=["metric:N", "tier:N", alt.Tooltip("value:N", title="window value")],
        ).properties(width=WIDE, height=height)
    desc = f"DORA tiers of {card.name} under {benchmark_title}: " + "; ".join(f"{r['metric']} {r['tier']}" for r in rows) + "."
    spec = _templated(("tiers", benchmark_title, height), make, [rows], f"DORA performance tiers — {card.name}", desc)
    return Spec(spec, svgchart.draw_tiers, rows=rows, tiers=order, colors=TIER_COLORS, shapes=TIER_SHAPES, width=WIDE, height=height,
                x_title=f"tier ({benchmark_title})")


def vsm_spec(card: Scorecard) -> dict:
    m = card.map
    bottleneck = m.bottleneck.name if m.bottleneck else None
    rows = []
    for i, s in enumerate(m.steps):
        label = f"{i + 1}. {s.name}" + (" (bottleneck)" if s.name == bottleneck else "")
        rows.append({"step": label, "part": "process", "hours": round(s.process_hours, 2), "order": 0})
        # The bottleneck's wait gets its own colour and legend entry, besides the label.
        rows.append({"step": label, "part": "wait at the bottleneck" if s.name == bottleneck else "wait", "hours": round(s.wait_hours, 2), "order": 1})
    steps = [r["step"] for r in rows[::2]]
    parts, colors = ["process", "wait", "wait at the bottleneck"], [PALETTE[2], "#cbd5e1", "#ef4444"]
    height = 28 * len(m.steps) + 20

    def make(alt, d):
        return alt.Chart(d[0]).mark_bar().encode(
            y=alt.Y("step:N", sort=steps, title=None),
            x=alt.X("hours:Q", stack=True, title="hours"),
            color=alt.Color("part:N", scale=alt.Scale(domain=parts, range=colors), title=None),
            order=alt.Order("order:Q"),
            tooltip=["step:N", "part:N", alt.Tooltip("hours:Q", format=".1f")],
        ).properties(width=WIDE, height=height)
    desc = f"Value stream map of {card.name}: " + "; ".join(f"{s.name}: {s.process_hours:.1f} h process, {s.wait_hours:.1f} h wait" for s in m.steps) + (f". Bottleneck: {bottleneck}." if bottleneck else ".")
    spec = _templated(("vsm", tuple(steps)), make, [rows], f"Value stream map — {card.name}", desc)
    return Spec(spec, svgchart.draw_vsm, rows=rows, steps=steps, parts=parts, colors=colors, width=WIDE, height=height, x_title="hours")


def to_svg(spec: Spec) -> str:
    """A spec's static SVG."""
    return spec.draw()


class ChartRenderer:
    """Collects the charts of a version while its pages render and draws each distinct one once at
    the end: a page holds a token per chart until then (see render.py `_fill_charts`)."""

    def __init__(self):
        self.svg: dict[str, str] = {}
        self.pending: dict[str, Spec] = {}
        self.drawn = 0

    def add(self, spec_json: str, spec: Spec) -> str:
        """The key (64 hex digits) under which `svgs()` returns this chart's SVG."""
        key = hashlib.sha256(spec_json.encode("utf-8")).hexdigest()
        if key not in self.svg:
            self.pending.setdefault(key, spec)
        return key

    def drawn_already(self, spec_json: str, svg: str) -> str:
        """`add` for a chart whose SVG is known (drawn by an earlier build from the same spec)."""
        key = hashlib.sha256(spec_json.encode("utf-8")).hexdigest()
        self.svg.setdefault(key, svg)
        return key

    def svgs(self) -> dict[str, str]:
        for key, spec in self.pending.items():
            self.svg[key] = spec.draw()
            self.drawn += 1
        self.pending = {}
        return self.svg


def chart_id(spec_json: str) -> str:
    """The id of the chart whose spec is `spec_json` (`json.dumps(spec, sort_keys=True, default=str)`)."""
    return "c" + hashlib.sha1(spec_json.encode()).hexdigest()[:10]


def sparkline(values: list[float | None], width: int = 96, height: int = 24, label: str = "") -> str:
    """A tiny inline SVG line (there can be hundreds per page)."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    aria = html.escape(label, quote=True)
    if len(pts) < 2:
        return f'<svg class="spark" width="{width}" height="{height}" role="img" aria-label="{aria}"></svg>'
    lo = min(v for _, v in pts)
    hi = max(v for _, v in pts)
    span = (hi - lo) or 1.0
    n = max(len(values) - 1, 1)
    coords = " ".join(f"{i / n * (width - 4) + 2:.1f},{height - 3 - (v - lo) / span * (height - 6):.1f}" for i, v in pts)
    x, y = coords.split(" ")[-1].split(",")
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{aria}">'
            f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{coords}"/><circle cx="{x}" cy="{y}" r="2" fill="currentColor"/></svg>')
