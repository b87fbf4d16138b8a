"""Deterministic generator of the sample company's data (used by `flowsite init` and sample_project/).

Northwind Outfitters, an online outdoor retailer: five value streams with their own rhythm,
18 months of tracker items with status history, deployments with some failures, incidents,
changes, quarterly culture surveys and monthly business KPIs.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import random
from pathlib import Path

END = dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.timezone.utc)
MONTHS = 18
START = END - dt.timedelta(days=int(MONTHS * 30.44))

# id: (deploys per week, items per week, type mix feature/defect/risk/debt, incident share, median lead hours, median flow days)
STREAMS = {
    "checkout": (9.0, 7.0, (0.55, 0.25, 0.08, 0.12), 0.06, 20.0, 6.0),
    "catalog": (4.0, 5.0, (0.65, 0.15, 0.05, 0.15), 0.04, 40.0, 8.0),
    "mobile-app": (1.0, 4.0, (0.60, 0.30, 0.04, 0.06), 0.12, 120.0, 12.0),
    "payments": (2.5, 3.0, (0.35, 0.15, 0.30, 0.20), 0.08, 60.0, 10.0),
    "support-tools": (0.4, 2.0, (0.50, 0.30, 0.05, 0.15), 0.15, 300.0, 18.0),
}
KPIS = {
    "checkout": [("conversion-rate", 2.4, 0.012), ("cart-abandonment", 71.0, -0.15)],
    "catalog": [("search-success", 78.0, 0.3), ("product-page-views", 1.9, 0.02)],
    "mobile-app": [("app-rating", 4.1, 0.01), ("crash-free-sessions", 98.6, 0.03)],
    "payments": [("payment-success", 96.5, 0.05), ("chargeback-rate", 0.42, -0.004)],
    "support-tools": [("first-contact-resolution", 64.0, 0.4), ("avg-handle-minutes", 11.5, -0.06)],
}
TRACKER_TYPES = {"feature": ["Story", "Story", "Feature"], "defect": ["Bug"], "risk": ["Security"], "debt": ["Tech Debt", "Task"]}
TYPES = ("feature", "defect", "risk", "debt")


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _work_hours(rng: random.Random, t: dt.datetime) -> dt.datetime:
    """Nudge a timestamp into a working day (Mon-Fri, 08-18 UTC)."""
    while t.weekday() >= 5:
        t += dt.timedelta(days=1)
    if not 8 <= t.hour < 18:
        t = t.replace(hour=rng.randint(8, 17))
    return t


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def generate(out: Path, seed: int = 7) -> dict[str, int]:
    """Write data/*.csv under `out`; returns row counts per file."""
    rng = random.Random(seed)
    items, status_rows, deploys, changes, incidents, survey, kpis = [], [], [], [], [], [], []
    seq = {"item": 1000, "dep": 1, "chg": 1, "inc": 1}
    days = (END - START).days
    for vs, (dpw, ipw, mix, inc_share, lead_h, flow_d) in STREAMS.items():
        # Work items: Poisson-ish arrivals, lognormal flow times.
        for day in range(days):
            when = START + dt.timedelta(days=day)
            for _ in range(_poisson(rng, ipw / 7)):
                seq["item"] += 1
                key = f"NW-{seq['item']}"
                ftype = rng.choices(TYPES, weights=mix)[0]
                created = _work_hours(rng, when + dt.timedelta(hours=rng.uniform(0, 24)))
                title = f"{ftype.title()} {seq['item']} for {vs}"
                t = created + dt.timedelta(days=rng.expovariate(1 / 4))
                hist = [("Backlog", created), ("Ready", _work_hours(rng, t))]
                if rng.random() < 0.06:  # canceled before work started
                    hist.append(("Won't Do", hist[-1][1] + dt.timedelta(days=rng.uniform(1, 20))))
                else:
                    flow = rng.lognormvariate(math.log(flow_d), 0.7)
                    t = hist[-1][1] + dt.timedelta(days=flow * rng.uniform(0.15, 0.35))
                    hist.append(("In Progress", _work_hours(rng, t)))
                    remaining = flow * rng.uniform(0.5, 0.8)
                    t = hist[-1][1] + dt.timedelta(days=remaining * 0.6)
                    hist.append(("In Review", _work_hours(rng, t)))
                    if rng.random() < 0.15:  # review sent it back
                        hist.append(("In Progress", hist[-1][1] + dt.timedelta(days=remaining * 0.15)))
                        hist.append(("In Review", hist[-1][1] + dt.timedelta(days=remaining * 0.1)))
                    hist.append(("Done", _work_hours(rng, hist[-1][1] + dt.timedelta(days=remaining * 0.4))))
                    if rng.random() < 0.03:  # reopened and done again
                        hist.append(("In Progress", hist[-1][1] + dt.timedelta(days=rng.uniform(1, 5))))
                        hist.append(("Done", hist[-1][1] + dt.timedelta(days=rng.uniform(1, 4))))
                hist = [(s, t) for s, t in hist if t <= END]
                final, final_at = hist[-1]
                completed = _iso(final_at) if final == "Done" else ""
                canceled = _iso(final_at) if final == "Won't Do" else ""
                items.append([key, rng.choice(TRACKER_TYPES[ftype]), vs, title, _iso(created), completed, canceled, rng.choice([1, 2, 3, 5, 8])])
                for status, at in hist:
                    status_rows.append([key, status, _iso(at)])
        # Deployments come in bursts: busy weeks and quiet ones.
        week = 0
        while START + dt.timedelta(weeks=week) < END:
            rate = dpw * rng.choice([0.4, 0.8, 1.0, 1.0, 1.3, 1.8])
            for _ in range(_poisson(rng, rate)):
                fin = _work_hours(rng, START + dt.timedelta(weeks=week, hours=rng.uniform(0, 168)))
                if fin > END:
                    continue
                dep_id = f"d-{seq['dep']:05d}"
                seq["dep"] += 1
                env = "production" if rng.random() < 0.85 else "staging"
                ok = rng.random() < 0.93
                rework = ok and env == "production" and rng.random() < 0.08
                deploys.append([dep_id, vs, env, "success" if ok else "failure", _iso(fin - dt.timedelta(minutes=rng.randint(4, 40))), _iso(fin), f"{rng.getrandbits(40):010x}", "true" if rework else "false"])
                if ok and env == "production":
                    for _ in range(rng.randint(1, 4)):
                        lead = rng.lognormvariate(math.log(lead_h), 0.9)
                        first = fin - dt.timedelta(hours=lead)
                        merged = first + dt.timedelta(hours=lead * rng.uniform(0.5, 0.9))
                        changes.append([f"PR-{seq['chg']}", vs, _iso(first), _iso(merged), dep_id])
                        seq["chg"] += 1
                    if rng.random() < inc_share:
                        created = fin + dt.timedelta(hours=rng.uniform(0.2, 30))
                        if created < END:
                            resolved = created + dt.timedelta(hours=rng.lognormvariate(math.log(3), 1.2))
                            explicit = dep_id if rng.random() < 0.5 else ""
                            incidents.append([f"INC-{seq['inc']}", vs, _iso(created), _iso(resolved) if resolved < END and rng.random() > 0.03 else "", explicit, rng.choice(["SEV1", "SEV2", "SEV2", "SEV3"])])
                            seq["inc"] += 1
            week += 1
        # Incidents not caused by a deployment (infrastructure, vendors).
        for _ in range(int(MONTHS * 0.6)):
            created = _work_hours(rng, START + dt.timedelta(days=rng.uniform(0, days)))
            incidents.append([f"INC-{seq['inc']}", vs, _iso(created), _iso(created + dt.timedelta(hours=rng.uniform(0.5, 12))), "", "SEV3"])
            seq["inc"] += 1
        # Quarterly Westrum survey; culture improves slowly in most streams.
        base = {"checkout": 5.6, "catalog": 5.1, "mobile-app": 4.4, "payments": 4.9, "support-tools": 3.9}[vs]
        q = 0
        while True:
            when = dt.datetime(2025, 6, 10, tzinfo=dt.timezone.utc) + dt.timedelta(days=91 * q)
            if when > END:
                break
            for r in range(rng.randint(7, 14)):
                answers = [max(1, min(7, round(rng.gauss(base + 0.12 * q, 1.0)))) for _ in range(6)]
                survey.append([vs, _iso(when + dt.timedelta(hours=rng.uniform(0, 120))), f"{vs}-r{r}", *answers])
            q += 1
        for kpi, level, drift in KPIS[vs]:
            for m in range(MONTHS):
                date = dt.date(START.year, START.month, 1)
                y, mo = divmod(date.month - 1 + m + 1, 12)
                d = dt.date(date.year + y, mo + 1, 1) - dt.timedelta(days=1)
                if d > END.date():
                    break
                kpis.append([vs, kpi, d.isoformat(), round(level + drift * m + rng.gauss(0, abs(level) * 0.01), 3)])

    data = out / "data"
    _write(data / "work_items.csv", ["key", "issue_type", "value_stream", "summary", "created", "resolved", "canceled", "story_points"], sorted(items))
    _write(data / "status_changes.csv", ["key", "to_status", "changed"], status_rows)
    _write(data / "deployments.csv", ["id", "value_stream", "environment", "result", "started_at", "finished_at", "commit_sha", "is_rework"], deploys)
    _write(data / "changes.csv", ["id", "value_stream", "first_commit_at", "merged_at", "deployment_id"], changes)
    _write(data / "incidents.csv", ["id", "value_stream", "created_at", "resolved_at", "caused_by_deployment", "severity"], incidents)
    _write(data / "survey.csv", ["value_stream", "submitted_at", "respondent", "q1", "q2", "q3", "q4", "q5", "q6"], survey)
    _write(data / "kpis.csv", ["value_stream", "kpi", "date", "value"], kpis)
    return {"work_items": len(items), "status_changes": len(status_rows), "deployments": len(deploys), "changes": len(changes), "incidents": len(incidents), "survey_responses": len(survey), "kpis": len(kpis)}


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; lam is small here."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
