"""Chart text that vl-convert cannot measure still renders (regression: emoji cut by label truncation)."""
from __future__ import annotations

import json

from flowsite.cache import render_svg


def test_truncated_emoji_labels_render_instead_of_crashing():
    label = "checkout " + "😀" * 20
    spec = {
        "data": {"values": [{"a": label, "b": 1}]},
        "mark": "bar",
        "encoding": {"y": {"field": "a", "type": "nominal", "axis": {"labelLimit": 60}}, "x": {"field": "b", "type": "quantitative"}},
    }
    svg = render_svg(json.dumps(spec))
    assert svg.startswith("<svg") and "checkout" in svg


def test_plain_text_keeps_its_characters():
    spec = {"title": "Flow – 中文 😀", "data": {"values": [{"a": "x", "b": 1}]}, "mark": "bar",
            "encoding": {"x": {"field": "a", "type": "nominal"}, "y": {"field": "b", "type": "quantitative"}}}
    assert "😀" in render_svg(json.dumps(spec))
