"""The native SVG charts: d3's nice scales and ticks, Vega's bins, text estimates, every chart kind's
structure, escaping of hostile text (a hypothesis property test), determinism and size at scale."""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowsite import charts, svgchart
from flowsite.metrics.vsm import Step, ValueStreamMap
from flowsite.svgchart import bin_counts, bin_params, format_number, nice, text_width, tick_format, ticks, time_ticks, truncate
from tests.golden.models import card, conversion, lead_time

NS = "{http://www.w3.org/2000/svg}"
ELEMENTS = {"svg", "g", "text", "path", "rect", "circle", "title"}
ATTRS = {"xmlns", "class", "width", "height", "viewBox", "font-family", "font-size", "font-weight", "font-style", "fill", "fill-opacity", "stroke",
         "stroke-width", "stroke-opacity", "stroke-dasharray", "stroke-linecap", "transform", "x", "y", "d", "cx", "cy", "r", "text-anchor"}


# ---- scales, ticks and labels --------------------------------------------------------------------
@pytest.mark.parametrize("start, stop, count, expected", [
    (0, 1, 10, [0, .1, .2, .3, .4, .5, .6, .7, .8, .9, 1]),
    (0, 70, 5, [0, 10, 20, 30, 40, 50, 60, 70]),
    (0, 650, 7, [0, 100, 200, 300, 400, 500, 600]),
    (0, 100, 14, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]),
    (-1, 1, 5, [-1, -.5, 0, .5, 1]),
    (0.5, 2.6, 5, [.5, 1, 1.5, 2, 2.5]),
    (3, 3, 5, [3]),
    (10, 0, 2, [10, 5, 0]),
])
def test_ticks_are_d3s(start, stop, count, expected):
    assert ticks(start, stop, count) == pytest.approx(expected)


@pytest.mark.parametrize("start, stop, expected", [
    ((0, 650), 10, (0, 650)),  # already nice at a step of 50
    ((0, 510), 10, (0, 550)),
    ((0.123, 9.87), 10, (0, 10)),
    ((0, 69), 10, (0, 70)),
    ((-3.2, 41), 10, (-5, 45)),
    ((0, 0.037), 10, (0, 0.04)),
])
def test_nice_extends_the_domain_to_round_values(start, stop, expected):
    assert nice(*start, stop) == pytest.approx(expected)


def test_tick_labels_are_d3_formatted():
    assert [tick_format(0, 5000, 5)(v) for v in (0, 1000, 5000)] == ["0", "1,000", "5,000"]
    assert [tick_format(0, 2, 5)(v) for v in (0, 0.5, 1)] == ["0.0", "0.5", "1.0"]
    assert [tick_format(0, 0.1, 5)(v) for v in (0, 0.02)] == ["0.00", "0.02"]
    assert format_number(-2.5, 1) == "\u22122.5" and format_number(-0.001, 1) == "0.0"


def test_vega_bins():
    assert bin_params(0.3, 47.3, 30) == (0, 48, 2)
    assert bin_params(1, 7.25, 30) == (1, 7.5, 0.5)  # a step of 0.2 makes 32 bins: too many
    assert bin_params(0.12, 0.97, 30) == pytest.approx((0.1, 1.0, 0.05))
    start, stop, step = bin_params(5, 5, 30)  # one value: a bin around it
    assert start <= 5 < stop and step > 0
    assert bin_counts([0, 1.9, 2, 47.3, 48, None], 0, 48, 2) == [2, 1] + [0] * 21 + [2]


def test_time_ticks_are_months_labelled_as_vega_does():
    tk = time_ticks(dt.date(2025, 12, 1), dt.date(2026, 11, 30), 14)
    assert [label for _, label in tk][:3] == ["December", "2026", "February"]
    assert all(d.day == 1 for d, _ in tk) and len(tk) == 12
    short = time_ticks(dt.date(2026, 1, 5), dt.date(2026, 2, 2), 14)
    assert short and all(label.startswith(("Jan", "Feb", "February")) for _, label in short)


@settings(max_examples=3000)
@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.floats(-2000, 2000), st.integers(-20000, 20000).map(lambda i: i / 20)))
def test_coordinates_are_str_of_round_to_one_decimal(v):
    # The fast path formats instead of rounding; it must write what `str(round(v, 1))` (or its int) writes.
    r = round(v, 1)
    assert svgchart._n(v) == (str(int(r)) if r == int(r) else str(r))


def test_text_width_and_truncation():
    assert text_width("iii", 11) < text_width("MMM", 11) < text_width("MMM", 11, bold=True)
    assert text_width("中文", 10) == pytest.approx(20) and text_width("😀", 10) == pytest.approx(10)
    assert text_width("e\u0301", 10) == text_width("e", 10)  # a combining accent takes no room
    long = "Failed deployment recovery time of the checkout platform team " * 3
    cut = truncate(long, 260, 11)
    assert cut.endswith("…") and text_width(cut, 11) <= 260 and long.startswith(cut[:-1])
    assert truncate("short", 260, 11) == "short"
    assert truncate("😀" * 40, 60, 11).endswith("😀…")  # code points, never half a surrogate pair


# ---- the chart kinds -----------------------------------------------------------------------------
def many_streams(n: int, periods: list[str]) -> pl.DataFrame:
    return pl.DataFrame([{"value_stream": f"vs{i:03d}", "period": p, "value": float((i * 7 + j * 13) % 97), "n": 3}
                         for i in range(n) for j, p in enumerate(periods)])


PERIODS = [f"2026-{m:02d}" for m in range(1, 13)]


def all_specs() -> dict[str, dict]:
    cfd = [{"day": (dt.date(2026, 1, 5) + dt.timedelta(weeks=w)).isoformat(), "state": s, "items": 10 + w * (3 if s == "done" else 1), "order": o}
           for w in range(40) for s, o in (("done", 0), ("in progress", 1))]
    return {
        "trend": charts.trend_spec(lead_time(), "Checkout"),
        "trend_kpi": charts.trend_spec(conversion(), "Checkout"),
        "metric": charts.metric_spec("Lead time", "hours", many_streams(5, PERIODS), {"vs000": "Checkout"}, PERIODS),
        "flow_time": charts.flow_time_spec([0.5 + (i * 37 % 400) / 10 for i in range(300)], "Checkout", 7.0, 14.2),
        "cfd": charts.cfd_spec(cfd, "Checkout"),
        "distribution": charts.distribution_spec({"feature": 55.0, "defect": 25.0, "risk": None, "debt": 20.0}, card().investment, "Checkout"),
        "tiers": charts.tier_spec(card(), "DORA 2024"),
        "vsm": charts.vsm_spec(card()),
    }


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == NS + "svg"
    for el in root.iter():
        assert el.tag.removeprefix(NS) in ELEMENTS, el.tag
        assert set(el.attrib) <= ATTRS, el.attrib
    return root


@pytest.mark.parametrize("kind", list(all_specs()))
def test_every_kind_is_a_whole_svg_sized_around_its_view(kind):
    spec = all_specs()[kind]
    svg = charts.to_svg(spec)
    root = parse(svg)
    w, h = int(root.get("width")), int(root.get("height"))
    assert root.get("viewBox") == f"0 0 {w} {h}" and root.get("role") is None  # the page's div carries the role
    view = spec.get("width"), spec.get("height")
    assert w > view[0] and h > view[1]
    assert w < view[0] + 320 and h < view[1] + 220  # axes, title and legend, nothing runaway
    tx, ty = map(float, re.search(r'<g transform="translate\(([\d.]+),([\d.]+)\)"', svg).groups())
    assert tx + view[0] <= w and ty + view[1] <= h
    texts = "".join(root.itertext())
    assert spec["title"] in texts
    for cls in ("role-title-text", "role-axis-domain", "role-axis-label"):
        assert f'class="{cls}"' in svg  # the theme's CSS restyles these in dark mode
    assert re.search(r"\d\.\d\d", svg) is None or "<title>" in svg  # coordinates keep one decimal at most
    assert len(svg) < 12_000


def test_trend_has_band_points_with_tooltips_and_a_dashed_target_and_skips_nulls():
    svg = charts.trend_spec(lead_time(), "Checkout").draw()
    assert 'fill-opacity="0.14"' in svg and 'stroke-dasharray="6,4"' in svg
    assert svg.count("<circle") == 3  # four periods, one null: its point is omitted, the line joins the others
    assert re.search(r'<path d="M[\d.,L]+" stroke="#2563eb"', svg).group(0).count("L") == 2
    assert "Lead time for changes: 30.50" in svg and "Period: 2026-06" in svg
    assert 'rotate(-40)' in svg and svg.count('rotate(-40)') == 4
    bare = charts.trend_spec(replace(lead_time(), target=None, at_risk=None), "Checkout").draw()
    assert "fill-opacity" not in bare and "stroke-dasharray" not in bare


def test_y_axis_is_nice_from_zero():
    root = parse(charts.trend_spec(lead_time(), "Checkout").draw())
    labels = [t.text for g in root.iter(NS + "g") if g.get("class") == "role-axis-label" and g.get("text-anchor") == "end" for t in g]
    assert labels[0] == "0" and labels == sorted(labels, key=float) and float(labels[-1]) >= 36


def test_tiers_have_a_shape_per_tier_and_truncated_labels():
    c = card()
    long = replace(c.figures[0], name="A very long metric name " * 20, tier="low")
    c2 = replace(c, sections=(replace(c.sections[0], figures=(long,)), *c.sections[1:]))
    svg = charts.tier_spec(c2, "DORA 2024").draw()
    root = parse(svg)
    assert "…" in svg and all(text_width(t.text or "", 11) <= 260 for t in root.iter(NS + "text") if "very long" in (t.text or ""))
    assert svg.count('fill-opacity="0.7"') == 2  # lead time (elite) and the long one (low: a cross)
    assert 'fill="#b91c1c"' in svg and 'fill="#047857"' in svg


def test_vsm_stacks_process_then_wait_and_names_the_bottleneck_colour():
    vsm = ValueStreamMap("m", (Step("Design", 8.0, 40.0, 85.0), Step("Build", 24.0, 48.0, 90.0)))
    svg = charts.vsm_spec(replace(card(), map=vsm)).draw()
    rects = re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill="(#[0-9a-f]+)"', svg)
    bars = [r for r in rects if r[2] in ("#059669", "#cbd5e1", "#ef4444")]
    assert [r[2] for r in bars[:2]] == ["#059669", "#059669"] or [r[2] for r in bars][::2] == ["#059669"] * 2
    for process, wait in ((bars[0], bars[2]), (bars[1], bars[3])) if bars[1][2] == "#059669" else ((bars[0], bars[1]), (bars[2], bars[3])):
        assert float(wait[0]) == pytest.approx(float(process[0]) + float(process[1]), abs=0.11)
    assert "wait at the bottleneck" in svg  # every part of the colour scale is in the legend


def test_metric_chart_at_scale_stays_small_and_caps_its_legend():
    spec = charts.metric_spec("Lead time", "hours", many_streams(500, PERIODS), {}, PERIODS)
    svg = spec.draw()
    root = parse(svg)
    assert len(root.findall(f".//{NS}path")) < 30  # one path per colour, not per series
    assert len(svg) < 120_000
    legend = [t.text for g in root.iter(NS + "g") if g.get("class") == "role-legend-label" for t in g]
    shown, more = legend[:-1], int(re.fullmatch(r"\+(\d+) more", legend[-1]).group(1))
    assert shown[:2] == ["vs000", "vs001"] and len(shown) + more == 500
    assert len(shown) < 20 * svgchart.LEGEND_ROWS  # a few rows of the plot's width


def test_few_streams_get_points_and_a_full_legend():
    svg = charts.metric_spec("Lead time", "hours", many_streams(5, PERIODS), {}, PERIODS).draw()
    assert "more</text>" not in svg and svg.count("h0") == 60 and 'stroke-linecap="round"' in svg


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.floats(min_value=0, max_value=2000, allow_nan=False), st.just(float("nan")), st.just(float("inf"))), min_size=1, max_size=300))
def test_flow_time_spec_rows_are_the_bars_the_svg_draws(days):
    spec = charts.flow_time_spec(days, "Checkout", None, None)
    rows = spec["data"]["values"]  # one layer: Altair puts its data at the top
    finite = [d for d in days if d == d and d != float("inf")]
    assert sum(r["items"] for r in rows) == len(finite)  # every finite value in exactly one bin
    assert all(r["items"] > 0 and r["from"] < r["to"] for r in rows)
    assert all(a["to"] <= b["from"] for a, b in zip(rows, rows[1:]))
    assert len(rows) <= 30
    bars = re.findall(r"<title>Days: [^\n]*\nItems: ([\d,]+)</title>", spec.draw())
    assert [int(b.replace(",", "")) for b in bars] == [r["items"] for r in rows]


def test_flow_time_spec_of_a_large_value_stream_stays_small():
    import json

    days = [(i * 7919 % 100_003) / 1000 for i in range(200_000)]
    spec = charts.flow_time_spec(days, "Checkout", 40.0, 85.0)
    assert len(json.dumps(spec)) < 8_000  # a row per bin: it was 3 MB with a row per item
    assert "200000 items" in spec["description"] and spec["layer"][0]["encoding"]["x"]["bin"] == "binned"


def test_drawing_is_deterministic():
    first = {k: charts.to_svg(s) for k, s in all_specs().items()}
    svgchart._em_width.cache_clear()
    assert {k: charts.to_svg(s) for k, s in all_specs().items()} == first


def test_spec_json_is_unchanged_by_the_drawer():
    import json

    spec = charts.vsm_spec(card())
    assert isinstance(spec, charts.Spec) and json.loads(json.dumps(spec)) == dict(spec)


# ---- escaping --------------------------------------------------------------------------------------
text = st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn")), min_size=1, max_size=8)
                | st.sampled_from(["<", ">", "&", '"', "'", "]]>", "<script>", "&amp;", "😀", "👩‍💻", "中文", "\u202e", "\u0301"]),
                min_size=1, max_size=6).map("".join).filter(lambda s: s.strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=text, vs=text, unit=text, step=text, metric=text)
def test_hostile_text_is_escaped_in_every_kind(name, vs, unit, step, metric):
    fig = replace(lead_time(), name=name, unit=unit)
    c = replace(card(), name=vs, map=ValueStreamMap("m", (Step(step, 1.0, 2.0, None), Step(step + "2", 3.0, 1.0, None))))
    c = replace(c, sections=(replace(c.sections[0], figures=(replace(lead_time(), name=metric),)), *c.sections[1:]))
    frame = pl.DataFrame([{"value_stream": v, "period": p, "value": 1.0, "n": 1} for v in ("a", "b") for p in PERIODS[:3]])
    specs = [charts.trend_spec(fig, vs), charts.vsm_spec(c), charts.tier_spec(c, name), charts.distribution_spec({"feature": 50.0}, {}, vs),
             charts.flow_time_spec([1.0, 2.0], vs, 1.5, 1.9), charts.cfd_spec([{"day": "2026-01-05", "state": "done", "items": 1, "order": 0}], vs),
             charts.metric_spec(name, unit, frame, {"a": vs, "b": step}, PERIODS[:3])]
    for spec in specs:
        svg = spec.draw()
        root = parse(svg)  # well-formed, and only the elements and attributes the drawer writes
        texts = "".join(root.itertext())
        assert truncate(spec["title"], 10_000, 13, True) in texts or "…" in texts
