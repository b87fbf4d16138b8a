"""Tier assignment at every boundary of every benchmark set (conformance README §5 and the peers'
bucket variants). The expected tiers are written out by hand from the printed tables, not derived
from flowsite/metrics/tiers.py."""
from __future__ import annotations

import pytest

from flowsite.metrics.tiers import BENCHMARKS, custom_set, tier

E = 1e-6
MONTHLY = 12 / 52  # once a month in deployments per week
SIX_MONTHLY = 2 / 52

# (set, metric) -> [(value, expected tier)], each bound probed on both sides.
CASES: dict[tuple[str, str], list[tuple[float, str]]] = {
    # 2019: DF on demand / daily-weekly / weekly-monthly / monthly-six-monthly; LT <1d / 1d-1w / 1w-1m / 1-6m;
    # TTR <1h / <1d / <1d / 1w-1m (1 day to 1 week is a gap -> low); CFR 0-15 % for the top three, 46-60 % low.
    ("2019", "deployment_frequency"): [(7, "elite"), (7 - E, "high"), (1, "high"), (1 - E, "medium"), (MONTHLY, "medium"), (MONTHLY - E, "low"), (0, "low")],
    ("2019", "lead_time"): [(0, "elite"), (24 - E, "elite"), (24, "high"), (168 - E, "high"), (168, "medium"), (730 - E, "medium"), (730, "low")],
    ("2019", "recovery_time"): [(1 - E, "elite"), (1, "high"), (24 - E, "high"), (24, "low"), (200, "low")],
    ("2019", "change_failure_rate"): [(0, "elite"), (15, "elite"), (15 + E, "low"), (50, "low")],
    # 2021: DF high = weekly-monthly (daily to weekly falls to high), medium monthly-six-monthly; LT <1h / 1d-1w / 1m-6m / >6m.
    ("2021", "deployment_frequency"): [(7, "elite"), (7 - E, "high"), (MONTHLY, "high"), (MONTHLY - E, "medium"), (SIX_MONTHLY, "medium"), (SIX_MONTHLY - E, "low")],
    ("2021", "lead_time"): [(1 - E, "elite"), (1, "high"), (168 - E, "high"), (168, "medium"), (4380 - E, "medium"), (4380, "low")],
    ("2021", "recovery_time"): [(1 - E, "elite"), (1, "high"), (24 - E, "high"), (24, "medium"), (168 - E, "medium"), (168, "low")],
    ("2021", "change_failure_rate"): [(15, "elite"), (15 + E, "high"), (30, "high"), (30 + E, "low")],
    # 2022: three clusters, no elite.
    ("2022", "deployment_frequency"): [(7, "high"), (7 - E, "medium"), (MONTHLY, "medium"), (MONTHLY - E, "low")],
    ("2022", "lead_time"): [(0, "high"), (168 - E, "high"), (168, "medium"), (730 - E, "medium"), (730, "low")],
    ("2022", "recovery_time"): [(24 - E, "high"), (24, "medium"), (168 - E, "medium"), (168, "low")],
    ("2022", "change_failure_rate"): [(15, "high"), (15 + E, "medium"), (30, "medium"), (30 + E, "low")],
    # 2023: CFR point values 5 / 10 / 15 / 64 %: nearest value, midpoints 7.5, 12.5, 39.5.
    ("2023", "deployment_frequency"): [(7, "elite"), (7 - E, "high"), (1, "high"), (1 - E, "medium"), (MONTHLY, "medium"), (MONTHLY - E, "low")],
    ("2023", "lead_time"): [(24 - E, "elite"), (24, "high"), (168 - E, "high"), (168, "medium"), (730 - E, "medium"), (730, "low")],
    ("2023", "recovery_time"): [(1 - E, "elite"), (1, "high"), (24 - E, "high"), (24, "medium"), (168 - E, "medium"), (168, "low")],
    ("2023", "change_failure_rate"): [(5, "elite"), (7.5, "elite"), (7.5 + E, "high"), (12.5, "high"), (12.5 + E, "medium"), (39.5, "medium"), (39.5 + E, "low"), (64, "low")],
    # 2024: CFR 5 / 20 / 10 / 40 % (high and medium inverted): nearest value, midpoints 7.5, 15, 30.
    ("2024", "deployment_frequency"): [(7, "elite"), (7 - E, "high"), (1, "high"), (1 - E, "medium"), (MONTHLY, "medium"), (MONTHLY - E, "low")],
    ("2024", "lead_time"): [(24 - E, "elite"), (24, "high"), (168 - E, "high"), (168, "medium"), (730 - E, "medium"), (730, "low")],
    ("2024", "recovery_time"): [(1 - E, "elite"), (1, "high"), (24 - E, "high"), (24, "low")],
    ("2024", "change_failure_rate"): [(7.5, "elite"), (7.5 + E, "medium"), (10, "medium"), (15, "medium"), (15 + E, "high"), (20, "high"), (30, "high"), (30 + E, "low")],
    # DevLake's dashboard buckets (README §2 and §5, "implementation bucket variants").
    ("devlake-2021", "lead_time"): [(1 - E, "elite"), (1, "high"), (168 - E, "high"), (168, "medium"), (180 * 24 - E, "medium"), (180 * 24, "low")],
    ("devlake-2021", "recovery_time"): [(1 - E, "elite"), (1, "high"), (24 - E, "high"), (24, "medium"), (168 - E, "medium"), (168, "low")],
    ("devlake-2021", "change_failure_rate"): [(15, "elite"), (15 + E, "high"), (20, "high"), (20 + E, "medium"), (30, "medium"), (30 + E, "low")],
    ("devlake-2023", "lead_time"): [(24 - E, "elite"), (24, "high"), (168 - E, "high"), (168, "medium"), (720 - E, "medium"), (720, "low")],
    ("devlake-2023", "recovery_time"): [(1 - E, "elite"), (1, "high"), (24 - E, "high"), (24, "medium"), (168 - E, "medium"), (168, "low")],
    ("devlake-2023", "change_failure_rate"): [(5, "elite"), (5 + E, "high"), (10, "high"), (10 + E, "medium"), (15, "medium"), (15 + E, "low")],
    # Four Keys: LT/TTR < 24 h / < 168 h / < 730 h; CFR <= .15 / < .46 / else.
    ("fourkeys", "lead_time"): [(24 - E, "elite"), (24, "high"), (168 - E, "high"), (168, "medium"), (730 - E, "medium"), (730, "low"), (4380, "low")],
    ("fourkeys", "recovery_time"): [(24 - E, "elite"), (24, "high"), (168 - E, "high"), (168, "medium"), (730 - E, "medium"), (730, "low")],
    ("fourkeys", "change_failure_rate"): [(15, "elite"), (15 + E, "medium"), (46 - E, "medium"), (46, "low"), (120, "low")],
}

# Deployment frequency of the peer sets is tiered on other figures: (figures, expected).
FIGURE_CASES: dict[str, list[tuple[dict[str, float], str]]] = {
    "devlake-2023": [
        ({"deployment_days_per_week": 5, "deployment_days_per_month": 20}, "elite"),
        ({"deployment_days_per_week": 5 - E, "deployment_days_per_month": 20}, "high"),
        ({"deployment_days_per_week": 1, "deployment_days_per_month": 4}, "high"),
        ({"deployment_days_per_week": 1 - E, "deployment_days_per_month": 1}, "medium"),
        ({"deployment_days_per_week": 0, "deployment_days_per_month": 1 - E}, "low"),
    ],
    "devlake-2021": [
        ({"deployment_days_per_week": 5, "deployment_days_per_month": 20, "deployment_days_per_six_months": 100}, "elite"),
        ({"deployment_days_per_week": 5 - E, "deployment_days_per_month": 1, "deployment_days_per_six_months": 6}, "high"),
        ({"deployment_days_per_week": 0, "deployment_days_per_month": 1 - E, "deployment_days_per_six_months": 1}, "medium"),
        ({"deployment_days_per_week": 0, "deployment_days_per_month": 0, "deployment_days_per_six_months": 1 - E}, "low"),
    ],
    "fourkeys": [
        ({"deployment_days_per_week": 3, "deployment_weeks_median": 1, "deployed_weeks_per_month": 4}, "elite"),
        ({"deployment_days_per_week": 3 - E, "deployment_weeks_median": 1, "deployed_weeks_per_month": 4}, "high"),
        ({"deployment_days_per_week": 1, "deployment_weeks_median": 0.5, "deployed_weeks_per_month": 1}, "medium"),
        ({"deployment_days_per_week": 0, "deployment_weeks_median": 0, "deployed_weeks_per_month": 1 - E}, "low"),
    ],
}


@pytest.mark.parametrize(("bench", "metric", "value", "expected"), [(b, m, v, t) for (b, m), cases in CASES.items() for v, t in cases])
def test_boundary(bench, metric, value, expected):
    assert tier(value, BENCHMARKS[bench].rules[metric]) == expected


@pytest.mark.parametrize(("bench", "figures", "expected"), [(b, f, t) for b, cases in FIGURE_CASES.items() for f, t in cases])
def test_deployment_frequency_tiered_on_deployment_days(bench, figures, expected):
    assert tier(1.0, BENCHMARKS[bench].rules["deployment_frequency"], figures) == expected


def test_every_tiered_metric_of_every_set_is_covered():
    covered = set(CASES) | {(b, "deployment_frequency") for b in FIGURE_CASES}
    assert {(b, m) for b, s in BENCHMARKS.items() for m in s.rules} == covered


def test_missing_inputs_give_no_tier():
    assert tier(None, BENCHMARKS["2024"].rules["lead_time"]) is None
    assert tier(3.0, None) is None
    assert tier(3.0, BENCHMARKS["2024"].rules["rework_rate"] if "rework_rate" in BENCHMARKS["2024"].rules else None) is None
    # A rule on another figure never guesses when that figure has no data.
    assert tier(9.0, BENCHMARKS["devlake-2023"].rules["deployment_frequency"], {"deployment_days_per_week": 0.5}) is None


def test_custom_set_bounds_follow_the_metric_direction():
    s = custom_set({"lead_time": {"elite": 12, "high": 48, "medium": 200}, "deployment_frequency": {"elite": 10, "high": 2}}, {"lead_time": "lower", "deployment_frequency": "higher"})
    lt = s.rules["lead_time"]
    assert [tier(v, lt) for v in (12, 12 + E, 48, 48 + E, 200, 200 + E)] == ["elite", "high", "high", "medium", "medium", "low"]
    df = s.rules["deployment_frequency"]
    assert [tier(v, df) for v in (10, 10 - E, 2, 2 - E)] == ["elite", "high", "high", "low"]
