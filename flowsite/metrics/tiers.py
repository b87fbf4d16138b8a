"""DORA performance tiers per benchmark set (conformance README §5 and the peers' bucket variants).

Each rule is (tier, bound): higher-is-better metrics need value >= bound, lower-is-better
value < bound (or <= where the report prints a closed range). Tiers are tried from best to worst;
a value meeting none is `low`. Where a report prints the same range for two tiers, the better tier
wins; where the printed ranges leave a gap, the value falls to the next tier down. A rule may test
another figure than the metric's own (`figure`): DevLake and Four Keys bucket deployment frequency
by deployment days per week or month, not by deployments. docs/metrics/tiers.md has the tables.
"""
from __future__ import annotations

from dataclasses import dataclass

WEEKLY = 1.0
DAILY = 7.0
MONTHLY = 12 / 52  # once a month, in deployments per week
SIX_MONTHLY = 2 / 52
DAY_H, WEEK_H, MONTH_H, SIX_MONTHS_H = 24.0, 168.0, 730.0, 4380.0


@dataclass(frozen=True)
class Rule:
    tier: str
    bound: float
    op: str  # ">=", "<", "<="
    label: str
    figure: str | None = None  # test this figure of the same value stream instead of the metric's own


@dataclass(frozen=True)
class BenchmarkSet:
    id: str
    title: str
    source: str
    rules: dict[str, tuple[Rule, ...]]


def _r(metric_rules):
    return tuple(Rule(*r) for r in metric_rules)


BENCHMARKS: dict[str, BenchmarkSet] = {
    "2019": BenchmarkSet("2019", "DORA 2019", "Accelerate State of DevOps 2019, p. 18", {
        "deployment_frequency": _r([("elite", DAILY, ">=", "on demand (multiple deploys per day)"), ("high", WEEKLY, ">=", "once per day – once per week"), ("medium", MONTHLY, ">=", "once per week – once per month")]),
        "lead_time": _r([("elite", DAY_H, "<", "less than one day"), ("high", WEEK_H, "<", "one day – one week"), ("medium", MONTH_H, "<", "one week – one month")]),
        "recovery_time": _r([("elite", 1.0, "<", "less than one hour"), ("high", DAY_H, "<", "less than one day"), ("medium", DAY_H, "<", "less than one day")]),
        "change_failure_rate": _r([("elite", 15.0, "<=", "0–15%"), ("high", 15.0, "<=", "0–15%"), ("medium", 15.0, "<=", "0–15%")]),
    }),
    "2021": BenchmarkSet("2021", "DORA 2021", "Accelerate State of DevOps 2021, p. 9", {
        "deployment_frequency": _r([("elite", DAILY, ">=", "on demand (multiple deploys per day)"), ("high", MONTHLY, ">=", "once per week – once per month"), ("medium", SIX_MONTHLY, ">=", "once per month – once every six months")]),
        "lead_time": _r([("elite", 1.0, "<", "less than one hour"), ("high", WEEK_H, "<", "one day – one week"), ("medium", SIX_MONTHS_H, "<", "one month – six months")]),
        "recovery_time": _r([("elite", 1.0, "<", "less than one hour"), ("high", DAY_H, "<", "less than one day"), ("medium", WEEK_H, "<", "one day – one week")]),
        "change_failure_rate": _r([("elite", 15.0, "<=", "0–15%"), ("high", 30.0, "<=", "16–30%"), ("medium", 30.0, "<=", "16–30%")]),
    }),
    "2022": BenchmarkSet("2022", "DORA 2022", "Accelerate State of DevOps 2022 (three clusters, no elite)", {
        "deployment_frequency": _r([("high", DAILY, ">=", "on demand (multiple deploys per day)"), ("medium", MONTHLY, ">=", "once per week – once per month")]),
        "lead_time": _r([("high", WEEK_H, "<", "one day – one week"), ("medium", MONTH_H, "<", "one week – one month")]),
        "recovery_time": _r([("high", DAY_H, "<", "less than one day"), ("medium", WEEK_H, "<", "one day – one week")]),
        "change_failure_rate": _r([("high", 15.0, "<=", "0–15%"), ("medium", 30.0, "<=", "16–30%")]),
    }),
    "2023": BenchmarkSet("2023", "DORA 2023", "Accelerate State of DevOps 2023; CFR point values 5/10/15/64% assigned to the nearest", {
        "deployment_frequency": _r([("elite", DAILY, ">=", "on demand"), ("high", WEEKLY, ">=", "once per day – once per week"), ("medium", MONTHLY, ">=", "once per week – once per month")]),
        "lead_time": _r([("elite", DAY_H, "<", "less than one day"), ("high", WEEK_H, "<", "one day – one week"), ("medium", MONTH_H, "<", "one week – one month")]),
        "recovery_time": _r([("elite", 1.0, "<", "less than one hour"), ("high", DAY_H, "<", "less than one day"), ("medium", WEEK_H, "<", "one day – one week")]),
        "change_failure_rate": _r([("elite", 7.5, "<=", "5%"), ("high", 12.5, "<=", "10%"), ("medium", 39.5, "<=", "15%")]),
    }),
    "2024": BenchmarkSet("2024", "DORA 2024", "Accelerate State of DevOps 2024, p. 13; CFR point values 5/20/10/40% assigned to the nearest", {
        "deployment_frequency": _r([("elite", DAILY, ">=", "on demand (multiple deploys per day)"), ("high", WEEKLY, ">=", "once per day – once per week"), ("medium", MONTHLY, ">=", "once per week – once per month")]),
        "lead_time": _r([("elite", DAY_H, "<", "less than one day"), ("high", WEEK_H, "<", "one day – one week"), ("medium", MONTH_H, "<", "one week – one month")]),
        "recovery_time": _r([("elite", 1.0, "<", "less than one hour"), ("high", DAY_H, "<", "less than one day"), ("medium", DAY_H, "<", "less than one day")]),
        # nearest printed value: elite 5 | medium 10 | high 20 | low 40 (high and medium are inverted in the report)
        "change_failure_rate": _r([("elite", 7.5, "<=", "5%"), ("medium", 15.0, "<=", "10%"), ("high", 30.0, "<=", "20%")]),
    }),
    "devlake-2021": BenchmarkSet("devlake-2021", "DevLake (DORA 2021)", "Apache DevLake dashboard, dora_report = 2021", {
        "deployment_frequency": _r([
            ("elite", 5.0, ">=", "on demand (median ≥ 5 deployment days a week)", "deployment_days_per_week"),
            ("high", 1.0, ">=", "between once per day and once per month (median ≥ 1 deployment day a month)", "deployment_days_per_month"),
            ("medium", 1.0, ">=", "between once per month and once every six months (≥ 1 deployment day per six months)", "deployment_days_per_six_months"),
        ]),
        "lead_time": _r([("elite", 1.0, "<", "less than one hour"), ("high", WEEK_H, "<", "less than one week"), ("medium", 180 * 24.0, "<", "one week – six months")]),
        "recovery_time": _r([("elite", 1.0, "<", "less than one hour"), ("high", DAY_H, "<", "less than one day"), ("medium", WEEK_H, "<", "one day – one week")]),
        "change_failure_rate": _r([("elite", 15.0, "<=", "0–15%"), ("high", 20.0, "<=", "16–20%"), ("medium", 30.0, "<=", "21–30%")]),
    }),
    "devlake-2023": BenchmarkSet("devlake-2023", "DevLake (DORA 2023)", "Apache DevLake dashboard, dora_report = 2023", {
        "deployment_frequency": _r([
            ("elite", 5.0, ">=", "on demand (median ≥ 5 deployment days a week)", "deployment_days_per_week"),
            ("high", 1.0, ">=", "between once per day and once per week (median ≥ 1 deployment day a week)", "deployment_days_per_week"),
            ("medium", 1.0, ">=", "between once per week and once per month (median ≥ 1 deployment day a month)", "deployment_days_per_month"),
        ]),
        "lead_time": _r([("elite", DAY_H, "<", "less than one day"), ("high", WEEK_H, "<", "less than one week"), ("medium", 30 * 24.0, "<", "less than 30 days")]),
        "recovery_time": _r([("elite", 1.0, "<", "less than one hour"), ("high", DAY_H, "<", "less than one day"), ("medium", WEEK_H, "<", "less than one week")]),
        "change_failure_rate": _r([("elite", 5.0, "<=", "0–5%"), ("high", 10.0, "<=", "5–10%"), ("medium", 15.0, "<=", "10–15%")]),
    }),
    "fourkeys": BenchmarkSet("fourkeys", "Four Keys", "dora-team/fourkeys dashboard buckets (from the 2019 report)", {
        "lead_time": _r([("elite", DAY_H, "<", "one day"), ("high", WEEK_H, "<", "one week"), ("medium", MONTH_H, "<", "one month")]),
        "recovery_time": _r([("elite", DAY_H, "<", "one day"), ("high", WEEK_H, "<", "one week"), ("medium", MONTH_H, "<", "one month")]),
        # CFR is a ratio in Four Keys: <= .15 and < .46, here in percent.
        "change_failure_rate": _r([("elite", 15.0, "<=", "0–15%"), ("medium", 46.0, "<", "16–45%")]),
        "deployment_frequency": _r([
            ("elite", 3.0, ">=", "daily (median ≥ 3 deployment days a week)", "deployment_days_per_week"),
            ("high", 1.0, ">=", "weekly (most weeks have a deployment)", "deployment_weeks_median"),
            ("medium", 1.0, ">=", "monthly (median deployed weeks per month ≥ 1)", "deployed_weeks_per_month"),
        ]),
    }),
}

TIER_ORDER = ("elite", "high", "medium", "low")


def custom_set(thresholds: dict[str, dict[str, float]], directions: dict[str, str]) -> BenchmarkSet:
    rules = {}
    for metric, bounds in thresholds.items():
        op = ">=" if directions.get(metric) == "higher" else "<="
        rules[metric] = tuple(Rule(t, float(bounds[t]), op, f"{op} {bounds[t]:g}") for t in ("elite", "high", "medium") if t in bounds)
    return BenchmarkSet("custom", "Custom thresholds", "flowsite.yml benchmark_thresholds", rules)


def figures_needed(rules: tuple[Rule, ...] | None) -> tuple[str, ...]:
    """The other figures a metric's rules test (empty for the usual rule on the metric itself)."""
    return tuple(dict.fromkeys(r.figure for r in rules or () if r.figure))


def tier(value: float | None, rules: tuple[Rule, ...] | None, others: dict[str, float | None] | None = None) -> str | None:
    """The tier a value falls in, or None when there is no value or no rule for the metric.

    Rules naming a `figure` read it from `others`; when such a figure has no value the tier is
    unknown (None), never a guess.
    """
    if not rules:
        return None
    for r in rules:
        v = value if r.figure is None else (others or {}).get(r.figure)
        if v is None:
            return None
        if (r.op == ">=" and v >= r.bound) or (r.op == "<" and v < r.bound) or (r.op == "<=" and v <= r.bound):
            return r.tier
    return "low"
