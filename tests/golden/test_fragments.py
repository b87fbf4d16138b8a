"""Golden fragments: a figure card, an overview card and chart specs, from hand-made models and the sample build.

Hand-made inputs pin the theme and chart code alone; the sample-build fragment also pins what the
pipeline feeds them. Refresh after an intended change: `pytest tests/golden --update-goldens`.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markupsafe import Markup

from flowsite import charts
from flowsite.render import BUILTIN, Theme, environment
from flowsite.scorecard import Figure

from .models import card, conversion, lead_time

def sparkline(fig: Figure) -> Markup:
    return Markup(charts.sparkline([p.value for p in fig.trend], label=f"{fig.name} trend"))


@pytest.fixture(scope="module")
def macros():
    return environment(Theme((BUILTIN,))).get_template("_macros.html").module


def test_figure_card(golden, macros):
    html = str(macros.figure_card(lead_time(), "../../", sparkline, "DORA 2024")) + "\n"
    golden("figure_card.golden.html", html)


def test_kpi_card_escapes_and_does_not_link(golden, macros):
    html = str(macros.figure_card(conversion(), "../../", sparkline, "DORA 2024")) + "\n"
    assert "Conversion &lt;rate&gt;" in html and "<a " not in html
    golden("kpi_card.golden.html", html)


@pytest.mark.parametrize("name, make", [
    ("trend_spec", lambda: charts.trend_spec(lead_time(), "Checkout")),
    ("distribution_spec", lambda: charts.distribution_spec({"feature": 55.0, "defect": 25.0, "risk": None, "debt": 20.0}, card().investment, "Checkout")),
    ("tier_spec", lambda: charts.tier_spec(card(), "DORA 2024")),
    ("vsm_spec", lambda: charts.vsm_spec(card())),
])
def test_chart_spec(golden, name, make):
    golden(f"{name}.golden.json", json.dumps(make(), indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def test_overview_card_of_the_sample_build(golden, tmp_path: Path):
    from flowsite import build
    from tests.conftest import SAMPLE

    build(SAMPLE, out=tmp_path / "site", version="2026-11")
    html = (tmp_path / "site" / "2026-11" / "index.html").read_text(encoding="utf-8")
    m = re.search(r'<li class="card [^"]*"[^>]*data-name="Checkout".*?</li>', html, re.S)
    assert m, "no Checkout card on the overview"
    golden("overview_card.golden.html", m.group(0) + "\n")
