"""Hand-made scorecard models for golden and chart tests: fixed values, no pipeline involved."""
from __future__ import annotations

from flowsite.metrics.vsm import Step, ValueStreamMap
from flowsite.scorecard import Alignment, Figure, Point, Scorecard, Section, Status

PERIODS = ["2026-06", "2026-07", "2026-08", "2026-09"]


def lead_time() -> Figure:
    values = [30.5, 26.0, None, 19.7]
    return Figure(
        metric="lead_time", name="Lead time for changes", group="delivery", unit="hours", decimals=1, direction="lower",
        value=19.7, n=77, period="2026-09", target=24.0, at_risk=36.0, status=Status.ON_TRACK, tier="elite",
        trend=tuple(Point(p, v, 0 if v is None else 20 + i) for i, (p, v) in enumerate(zip(PERIODS, values))),
        delta=-6.3, window_value=24.1, window_n=240, warnings=("history starts 2026-06-14, after the window start",),
    )


def conversion() -> Figure:
    return Figure(
        metric="kpi.conversion", name="Conversion <rate>", group="outcomes", unit="%", decimals=2, direction="higher",
        value=2.41, n=1, period="2026-09", target=2.5, at_risk=2.3, status=Status.AT_RISK, tier=None,
        trend=tuple(Point(p, v, 1) for p, v in zip(PERIODS, [2.2, 2.3, 2.35, 2.41])), delta=0.06, window_value=2.32, window_n=4,
    )


def card() -> Scorecard:
    vsm = ValueStreamMap("Idea to production", (Step("Design", 8.0, 40.0, 85.0), Step("Build", 24.0, 48.0, 90.0), Step("Release", 1.0, 4.0, None)))
    sections = (Section("outcomes", "Business outcomes", (conversion(),)), Section("flow", "Flow", ()),
                Section("delivery", "Delivery (DORA)", (lead_time(),)), Section("culture", "Culture", ()), Section("vsm", "Value stream map", ()))
    return Scorecard(id="checkout", name="Checkout", description="Basket and payment", owners=("Dana (product)",), sections=sections,
                     alignment=Alignment(1, 1, 0, 0), tier="elite", investment={"feature": 0.6, "defect": 0.2, "risk": 0.1, "debt": 0.1}, map=vsm)
