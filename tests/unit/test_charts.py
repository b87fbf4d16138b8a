"""Chart helpers: sparklines, target bands, metric page links."""
from __future__ import annotations

import re

from flowsite import charts
from flowsite.render import metric_page
from tests.golden.models import conversion, lead_time


def test_sparkline_skips_gaps_and_needs_two_points():
    assert "<polyline" not in charts.sparkline([None, 3.0])
    svg = charts.sparkline([1.0, None, 3.0, 2.0], label='a "b" <c>')
    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert len(points) == 3
    assert 'aria-label="a &quot;b&quot; &lt;c&gt;"' in svg
    # Higher values sit higher (smaller y); the last point is marked.
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[1] < ys[2] < ys[0]
    assert re.search(r'<circle cx="94.0" cy="%s"' % re.escape(points[-1].split(",")[1]), svg)


def test_flat_series_draws_a_line():
    svg = charts.sparkline([2.0, 2.0, 2.0])
    assert len(re.search(r'points="([^"]+)"', svg).group(1).split()) == 3


def test_trend_chart_has_a_target_rule_and_an_at_risk_band():
    spec = charts.trend_spec(lead_time(), "Checkout")
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]
    assert marks == ["rect", "line", "rule"]
    assert spec["layer"][0]["data"]["values"] == [{"lo": 24.0, "hi": 36.0}]
    assert "at risk, up to 36.0 hours" in spec["description"]


def test_trend_chart_without_target_has_no_band():
    fig = lead_time()
    from dataclasses import replace

    spec = charts.trend_spec(replace(fig, target=None, at_risk=None), "Checkout")
    assert [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]] == ["line"]


def test_charts_render_to_svg_with_theme_classes():
    svg = charts.to_svg(charts.trend_spec(conversion(), "Checkout"))
    assert svg.startswith("<svg") and "role-axis-grid" in svg and "role-title-text" in svg  # the CSS restyles these in dark mode


def test_figures_link_to_their_metric_page():
    assert metric_page("lead_time") == "lead_time"
    assert metric_page("flow_time_p85") == "flow_time"
    assert metric_page("kpi.conversion") is None


def test_chart_templates_kept_by_an_earlier_process_give_the_same_specs(monkeypatch):
    # A rebuild loads the templates Altair made in an earlier process; the specs must not change.
    import json
    import pickle

    monkeypatch.setattr(charts, "_TEMPLATES", {})
    monkeypatch.setattr(charts, "_TEMPLATES_LOADED", set())
    fresh = json.dumps(charts.trend_spec(lead_time(), "Payments"), sort_keys=True)
    kept = charts.templates_made()
    assert kept is not None and charts.templates_made() is not None

    monkeypatch.setattr(charts, "_TEMPLATES", {})
    monkeypatch.setattr(charts, "_TEMPLATES_LOADED", set())
    charts.load_templates(kept)
    assert charts.templates_made() is None  # nothing new to keep
    assert json.dumps(charts.trend_spec(lead_time(), "Payments"), sort_keys=True) == fresh
    # Damaged or foreign data is no templates.
    for bad in (b"garbage", pickle.dumps([1, 2]), pickle.dumps({"k": 1}), None):
        monkeypatch.setattr(charts, "_TEMPLATES", {})
        charts.load_templates(bad)
        assert charts._TEMPLATES == {}
