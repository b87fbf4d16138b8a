"""Badges: one shields-style SVG per value stream and figure, escaped and accessible."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from flowsite import build
from flowsite.badges import COLOURS, badge_svg, short_value, text_width
from flowsite.scorecard import Status
from tests.workflow.project import small_project

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("badges")
    project = small_project(root / "p")
    cfg = (project / "flowsite.yml").read_text().replace("{id: shop, name: Shop,", "{id: shop, name: \"Shop <b>&amp; 'co'\",")
    (project / "flowsite.yml").write_text(cfg)
    res = build(project, out=root / "site")
    return res, root / "site" / res.version / "badges"


def test_one_badge_per_value_stream_and_figure(built):
    res, badges = built
    expected = {f"{c.id}/{f.metric}.svg" for c in res.model.scorecards for f in c.figures} | {f"{c.id}.svg" for c in res.model.scorecards}
    got = {str(p.relative_to(badges)) for p in badges.rglob("*.svg")}
    assert got == expected
    assert "shop/deployment_frequency.svg" in got and "shop/flow_time_p85.svg" in got


def test_badge_text_status_and_accessibility(built):
    _, badges = built
    root = ET.parse(badges / "shop" / "deployment_frequency.svg").getroot()
    assert root.get("role") == "img"
    label = root.get("aria-label")
    assert root.find(f"{SVG}title").text == label
    # shop deploys 4 times in September's 30 days: 0.93/wk against a target of 1 (at risk from 0.5).
    assert label.startswith("Shop <b>&amp; 'co': Deployment frequency 0.9/wk (2026-09), at risk, target 1.00 per week")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["deployment frequency", "0.9/wk ▲"]  # the status is a symbol, not only a colour
    assert COLOURS[Status.AT_RISK] in ET.tostring(root, encoding="unicode")
    raw = (badges / "shop" / "deployment_frequency.svg").read_text()
    assert "<b>" not in raw and "&lt;b&gt;&amp;amp;" in raw  # data is escaped, never markup
    app = ET.parse(badges / "app.svg").getroot()
    assert app.get("aria-label") == "App: alignment off track, 0 on track, 0 at risk, 2 off track"


def test_width_grows_with_text():
    narrow = ET.fromstring(badge_svg("a", "1", "#000", "x"))
    wide = ET.fromstring(badge_svg("deployment frequency", "12.5/wk", "#000", "x"))
    assert int(wide.get("width")) > int(narrow.get("width"))
    assert int(wide.get("width")) == text_width("deployment frequency") + text_width("12.5/wk") + 20


@pytest.mark.parametrize("value, unit, expected", [
    (8.17, "per week", "8.2/wk"), (6.2, "days", "6.2 d"), (14.0, "days", "14 d"), (30.0, "hours", "30.0 h"),
    (96.0, "hours", "4.0 d"), (0.5, "hours", "30 min"), (12.34, "%", "12.3%"), (None, "items", "no data"),
])
def test_short_values(built, value, unit, expected):
    res, _ = built
    fig = res.model.scorecard("shop").figure("flow_time")
    from dataclasses import replace

    assert short_value(replace(fig, value=value, unit=unit)) == expected


def test_wide_and_zero_width_characters():
    assert text_width("中文") == 22
    assert text_width("a\u202eb\u200b") == text_width("ab")
