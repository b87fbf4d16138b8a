"""`flowsite demo`: a generated project at a chosen scale, to try flowsite (and benchmark it) at your size.

The data is written in the canonical datasets as Parquet, generated with numpy and polars in whole
columns (the L scale is 2M work items and 10M status changes), from a fixed seed so the same scale
always gives the same bytes. The shapes are deliberately uneven, as real organisations are: a few
big value streams and a long tail of small ones, long-tailed flow and lead times, deployments in
bursts, rare incidents and a handful of reopened or canceled items.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from .errors import BuildError, Problem

END = dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.timezone.utc)
US = 1_000_000  # microseconds per second
HOUR = 3600 * US
DAY = 24 * HOUR
TS = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Scale:
    value_streams: int
    work_items: int
    status_changes: int  # approximate: about five per item, fewer for open and canceled items
    deployments: int
    changes: int
    incidents: int
    months: int


SCALES = {
    "S": Scale(5, 1_600, 8_000, 1_450, 2_800, 140, 18),  # the sample project's size
    "M": Scale(50, 200_000, 1_000_000, 100_000, 200_000, 5_000, 36),
    "L": Scale(500, 2_000_000, 10_000_000, 1_000_000, 2_000_000, 50_000, 36),
}
TYPES = np.array(["feature", "defect", "risk", "debt"])
WORDS = ("Orders", "Search", "Billing", "Identity", "Pricing", "Inventory", "Shipping", "Returns", "Loyalty", "Reporting",
         "Onboarding", "Payments", "Catalog", "Mobile", "Partner", "Support", "Fraud", "Data", "Platform", "Messaging")


def _ids(prefix: str, n: int) -> pl.Series:
    return pl.select((pl.lit(prefix) + pl.int_range(1, n + 1, dtype=pl.Int64).cast(pl.String)).alias("id")).to_series()


def _ts(us: np.ndarray) -> pl.Series:
    return pl.Series(us.astype("int64")).cast(TS)


def _stream_weights(n: int) -> np.ndarray:
    """A few big value streams and a long tail (Zipf-like), so per-stream work is uneven."""
    w = 1.0 / np.arange(1, n + 1) ** 0.9
    return w / w.sum()


def _write(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path, compression="zstd", statistics=True, row_group_size=1_000_000)


def stream_ids(n: int) -> list[str]:
    return [f"vs-{i:03d}" for i in range(1, n + 1)]


def generate(directory: Path, scale: str = "M", *, seed: int = 7) -> dict[str, int]:
    """Write flowsite.yml, data/*.parquet, maps/ and pages/ into `directory`; returns rows per dataset."""
    s = SCALES[scale]
    rng = np.random.default_rng(seed)
    directory = Path(directory)
    data = directory / "data"
    end = int(END.timestamp() * US)
    start = end - int(s.months * 30.44 * DAY)
    vs_names = stream_ids(s.value_streams)
    vs_series = pl.Series("value_stream", vs_names)
    weights = _stream_weights(s.value_streams)
    # Each stream has its own rhythm: median flow days, median lead hours and incident proneness.
    flow_median = rng.lognormal(np.log(8.0), 0.4, s.value_streams)
    lead_median = rng.lognormal(np.log(40.0), 0.7, s.value_streams)
    mixes = rng.dirichlet([6, 2.5, 0.8, 1.5], s.value_streams)
    counts: dict[str, int] = {}

    # ---- work items and their status history --------------------------------------------------
    n = s.work_items
    vs = rng.choice(s.value_streams, size=n, p=weights)
    created = rng.integers(start, end, size=n)
    u = rng.random(n)
    ftype = (u[:, None] > np.cumsum(mixes[vs], axis=1)).sum(axis=1).clip(0, 3)
    flow = rng.lognormal(np.log(flow_median[vs]), 0.9) * DAY  # long-tailed
    ready = created + (rng.exponential(4.0, n) * DAY).astype("int64")
    canceled = rng.random(n) < 0.06
    rework = ~canceled & (rng.random(n) < 0.06)
    in_progress = ready + (flow * rng.uniform(0.15, 0.35, n)).astype("int64")
    remaining = flow * rng.uniform(0.5, 0.8, n)
    in_review = in_progress + (remaining * 0.6).astype("int64")
    back = in_review + (remaining * 0.15).astype("int64")  # review sent it back (rework only)
    review2 = back + (remaining * 0.1).astype("int64")
    done = np.where(rework, review2, in_review) + (remaining * 0.4).astype("int64")
    won_t = ready + (rng.uniform(1, 20, n) * DAY).astype("int64")
    # Columns of the history: Backlog, Ready, In Progress, In Review, [In Progress, In Review], Done | Won't Do.
    steps = np.stack([created, ready, in_progress, in_review, back, review2, done], axis=1)
    names = np.array(["Backlog", "Ready", "In Progress", "In Review", "In Progress", "In Review", "Done"])
    present = np.ones_like(steps, dtype=bool)
    present[:, 4:6] = rework[:, None]
    present[canceled, 2:] = False
    present &= steps <= end
    final_done = present[:, 6]
    final_cancel = canceled & (won_t <= end)
    sc_item = np.nonzero(present)
    order = np.argsort(sc_item[0], kind="stable")  # already item-major; keeps the history in order
    item_idx = np.concatenate([sc_item[0][order], np.nonzero(final_cancel)[0]])
    status_idx = np.concatenate([sc_item[1][order], np.full(int(final_cancel.sum()), 7)])
    at = np.concatenate([steps[present][order], won_t[final_cancel]])
    resort = np.lexsort((at, item_idx))
    item_idx, status_idx, at = item_idx[resort], status_idx[resort], at[resort]
    ids = _ids("W-", n)
    all_names = pl.Series(np.append(names, "Won't Do"))
    work_items = pl.DataFrame({
        "id": ids,
        "type": pl.Series(TYPES[ftype]),
        "value_stream": vs_series.gather(vs),
        "created_at": _ts(created),
        "completed_at": _ts(done).set(pl.Series(~final_done), None),
        "canceled_at": _ts(won_t).set(pl.Series(~final_cancel), None),
        "points": pl.Series(rng.choice([1, 2, 3, 5, 8], size=n).astype("float64")),
    })
    _write(work_items, data / "work_items.parquet")
    counts["work_items"] = work_items.height
    del work_items
    status_changes = pl.DataFrame({"item_id": ids.gather(item_idx), "status": all_names.gather(status_idx), "changed_at": _ts(at)})
    _write(status_changes, data / "status_changes.parquet")
    counts["status_changes"] = status_changes.height
    del status_changes, steps, present, item_idx, status_idx, at, ids

    # ---- deployments: bursts per stream and week ----------------------------------------------
    weeks = (end - start) // (7 * DAY)
    burst = rng.gamma(0.8, 1.0, (s.value_streams, weeks))
    cell_p = (weights[:, None] * burst / burst.sum(axis=1, keepdims=True)).ravel()
    cell = rng.choice(cell_p.size, size=s.deployments, p=cell_p / cell_p.sum())
    dvs, dweek = cell // weeks, cell % weeks
    finished = start + dweek * 7 * DAY + rng.integers(0, 7 * DAY, s.deployments)
    by_time = np.argsort(finished, kind="stable")  # ids in the order the deployments happened
    finished, dvs = finished[by_time], dvs[by_time]
    finished = np.minimum(finished, end)
    prod = rng.random(s.deployments) < 0.85
    ok = rng.random(s.deployments) < 0.93
    rework_dep = ok & prod & (rng.random(s.deployments) < 0.08)
    dep_ids = _ids("D-", s.deployments)
    deployments = pl.DataFrame({
        "id": dep_ids,
        "value_stream": vs_series.gather(dvs),
        "environment": pl.Series(np.where(prod, "production", "staging")),
        "result": pl.Series(np.where(ok, "success", "failure")),
        "started_at": _ts(finished - rng.integers(4, 40, s.deployments) * 60 * US),
        "finished_at": _ts(finished),
        "is_rework": pl.Series(rework_dep),
    })
    _write(deployments, data / "deployments.parquet")
    counts["deployments"] = deployments.height
    del deployments
    good = np.nonzero(prod & ok)[0]

    # ---- changes, each shipped by a production deployment -------------------------------------
    pick = good[rng.integers(0, good.size, s.changes)]
    lead = rng.lognormal(np.log(lead_median[dvs[pick]]), 0.9) * HOUR
    first = finished[pick] - lead.astype("int64")
    changes = pl.DataFrame({
        "id": _ids("PR-", s.changes),
        "value_stream": vs_series.gather(dvs[pick]),
        "first_commit_at": _ts(first),
        "merged_at": _ts(first + (lead * rng.uniform(0.5, 0.9, s.changes)).astype("int64")),
        "deployment_id": dep_ids.gather(pick),
    })
    _write(changes, data / "changes.parquet")
    counts["changes"] = changes.height
    del changes, lead, first, pick

    # ---- incidents: rare, most caused by a deployment, some streams more prone ---------------
    n_inc = s.incidents
    caused = rng.random(n_inc) < 0.7
    prone = rng.lognormal(0.0, 0.8, s.value_streams)
    p_dep = prone[dvs[good]]
    dep_pick = good[rng.choice(good.size, size=n_inc, p=p_dep / p_dep.sum())]
    other_vs = rng.choice(s.value_streams, size=n_inc, p=weights)
    ivs = np.where(caused, dvs[dep_pick], other_vs)
    icreated = np.where(caused, finished[dep_pick] + (rng.uniform(0.2, 30, n_inc) * HOUR).astype("int64"), rng.integers(start, end, n_inc))
    resolved = icreated + (rng.lognormal(np.log(3.0), 1.2, n_inc) * HOUR).astype("int64")
    keep = icreated <= end
    open_ = (resolved > end) | (rng.random(n_inc) < 0.03)
    explicit = caused & (rng.random(n_inc) < 0.5)
    incidents = pl.DataFrame({
        "id": _ids("INC-", n_inc),
        "value_stream": vs_series.gather(ivs),
        "created_at": _ts(icreated),
        "resolved_at": _ts(resolved).set(pl.Series(open_), None),
        "caused_by_deployment": dep_ids.gather(dep_pick).set(pl.Series(~explicit), None),
        "severity": pl.Series(rng.choice(["SEV1", "SEV2", "SEV2", "SEV3", "SEV3", "SEV3"], n_inc)),
    }).filter(pl.Series(keep))
    _write(incidents, data / "incidents.parquet")
    counts["incidents"] = incidents.height
    del incidents, dep_ids

    # ---- quarterly culture survey and monthly KPIs (small) -----------------------------------
    quarters = np.arange(start + 60 * DAY, end, 91 * DAY)
    per = rng.integers(6, 15, (s.value_streams, quarters.size))
    svs = np.repeat(np.arange(s.value_streams), per.sum(axis=1))
    sq = np.concatenate([np.repeat(np.arange(quarters.size), per[i]) for i in range(s.value_streams)])
    base = rng.uniform(3.8, 5.8, s.value_streams)
    answers = np.clip(np.rint(rng.normal((base[svs] + 0.1 * sq)[:, None], 1.0, (svs.size, 6))), 1, 7)
    survey = pl.DataFrame({
        "value_stream": vs_series.gather(svs),
        "submitted_at": _ts(quarters[sq] + rng.integers(0, 5 * DAY, svs.size)),
        **{f"westrum_{i + 1}": pl.Series(answers[:, i]) for i in range(6)},
    })
    _write(survey, data / "survey_responses.parquet")
    counts["survey_responses"] = survey.height
    month_ends = pl.date_range(dt.date(2023, 12, 31), END.date(), "1mo", eager=True).dt.month_end()
    month_ends = month_ends.filter(month_ends <= END.date()).tail(s.months)
    level = rng.uniform(60, 95, s.value_streams)
    drift = rng.normal(0.1, 0.15, s.value_streams)
    mi = np.tile(np.arange(month_ends.len()), s.value_streams * 2)
    kvs = np.repeat(np.arange(s.value_streams), month_ends.len() * 2)
    kind = np.tile(np.repeat([0, 1], month_ends.len()), s.value_streams)
    value = np.where(kind == 0, level[kvs] + drift[kvs] * mi, 20 - drift[kvs] * mi * 0.5) + rng.normal(0, 0.5, mi.size)
    kpis = pl.DataFrame({
        "value_stream": vs_series.gather(kvs),
        "kpi": pl.Series(np.where(kind == 0, "customer-satisfaction", "cost-per-transaction")),
        "date": month_ends.gather(mi),
        "value": pl.Series(np.round(value, 3)),
    })
    _write(kpis, data / "kpis.parquet")
    counts["kpis"] = kpis.height

    _write_project(directory, scale, vs_names, mixes, rng)
    return counts


def _write_project(directory: Path, scale: str, vs_names: list[str], mixes: np.ndarray, rng: np.random.Generator) -> None:
    lines = [
        f"# flowsite demo project, scale {scale} (generated by `flowsite demo`; the data is made, not committed).",
        f"name: Demo {scale}",
        f"description: Generated delivery data for {len(vs_names)} value streams, to try flowsite at this size.",
        "period: month",
        "window: 12",
        "timezone: UTC",
        'benchmark: "2024"',
        "profile: flowsite",
        "",
        "sources:",
        *(f"  {d}: data/{d}.parquet" for d in ("work_items", "status_changes", "deployments", "changes", "incidents", "survey_responses", "kpis")),
        "",
        "targets:",
        "  lead_time: {target: 48, at_risk: 96}",
        "  change_failure_rate: {target: 10, at_risk: 15}",
        "  recovery_time: {target: 4, at_risk: 24}",
        "  flow_time: {target: 10, at_risk: 15}",
        "  westrum: {target: 5.5, at_risk: 4.5}",
        "",
        "value_streams:",
    ]
    for i, vs in enumerate(vs_names):
        name = f"{WORDS[i % len(WORDS)]} {i // len(WORDS) + 1}" if len(vs_names) > len(WORDS) else WORDS[i]
        mix = np.round(mixes[i] * 20) / 20
        mix[0] += 1.0 - mix.sum()
        lines += [
            f"  - id: {vs}",
            f"    name: {name}",
            f"    owners: [Team {name}]",
            "    investment: {" + ", ".join(f"{t}: {max(m, 0):.2f}" for t, m in zip(TYPES, mix)) + "}",
            "    kpis:",
            "      - {id: customer-satisfaction, name: Customer satisfaction, unit: '%', direction: higher, target: 85, at_risk: 80}",
            "      - {id: cost-per-transaction, name: Cost per transaction, unit: cents, direction: lower, target: 18, at_risk: 20}",
        ]
        if i < 3:
            lines.append(f"    map: maps/{vs}.yml")
    lines += ["", "site:", f"  title: Demo {scale} scorecards", "  output: site", ""]
    (directory / "flowsite.yml").write_text("\n".join(lines), encoding="utf-8")
    maps = directory / "maps"
    maps.mkdir(parents=True, exist_ok=True)
    for vs in vs_names[:3]:
        steps = [("Refine", 4, 50, 75), ("Build", 20, 45, 90), ("Review", 2, 24, 85), ("Test", 6, 20, 95), ("Release", 1, 6, 99)]
        body = "\n".join(f"  - {{name: {n}, process_time: {p}, lead_time: {round(lt * float(rng.uniform(0.7, 1.5)))}, pct_complete_accurate: {c}}}" for n, p, lt, c in steps)
        (maps / f"{vs}.yml").write_text(f"title: {vs} change, idea to production\nunit: hours\nsteps:\n{body}\n", encoding="utf-8")
    pages = directory / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    (pages / "01-about.md").write_text(
        "---\ntitle: About this demo\norder: 1\n---\n# About this demo\n\n"
        f"Generated data for {len(vs_names)} value streams. The biggest, {vs_names[0]}, delivers "
        f"[[figure {vs_names[0]} flow_velocity]] items a month.\n\n[[chart {vs_names[0]} lead_time]]\n",
        encoding="utf-8",
    )
    (directory / ".gitignore").write_text("data/\nsite/\n.site.flowsite.*\n", encoding="utf-8")


def create_demo(directory: Path, scale: str, *, seed: int = 7, force: bool = False) -> dict[str, int]:
    directory = Path(directory)
    if scale not in SCALES:
        raise BuildError(problems=[Problem(f"expected a scale S, M or L, got {scale!r}")])
    if directory.exists() and not directory.is_dir():
        raise BuildError(problems=[Problem("exists and is not a folder", file=str(directory))])
    if directory.exists() and any(directory.iterdir()) and not force:
        raise BuildError(problems=[Problem("the folder is not empty", file=str(directory), hint="choose a new folder or pass --force")])
    directory.mkdir(parents=True, exist_ok=True)
    return generate(directory, scale, seed=seed)
