"""flowsite at scale: one command that builds the M and L demo projects and compares the metric stage.

    python benchmarks/run.py                 # M and L (L takes a few minutes)
    python benchmarks/run.py --scales M      # just M
    python benchmarks/run.py --metrics-only --work bench-work   # only the metric comparison, reusing projects there

For each scale it generates the demo project (`flowsite demo`), then times three builds, each in a
fresh process: cold (empty cache, empty output), rebuild with nothing changed, and rebuild after one
value stream's data changed (with `--builds N`, each kind N times, a different value stream changed
each time, and the fastest run reported). Per stage (load, metrics, charts, render, write) it prints wall seconds,
CPU seconds (the build process and its children) and peak RSS (sampled every 20 ms from the
benchmark's own process, build process plus workers; a child that has not yet replaced the build's program is the build's own
pages, not counted twice), and for each build the whole process's wall seconds, from Python's start
to its exit, which is what a user waits for (and, after the rebuilds with nothing changed, the
same rebuild run as `flowsite build`, which answers before importing polars). Then, in one process on the same loaded data, it times flowsite's metric
stage against the same metrics written as DuckDB SQL (DevLake / Four Keys style) and in
straightforward pandas, and checks the three agree. Figures go to benchmarks/out/results.json.

`--metrics-only` skips the three builds and runs just the metric comparison (figures to
benchmarks/out/metrics.json); with `--work`, a demo project already generated there (demo-M, demo-L)
is reused, so iterating on the metric code does not regenerate the data.

Timings depend on the machine and on what else it runs; they are printed, never asserted.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
STAGES = ("load", "metrics", "charts", "render", "write")

# The child: one build, instrumented. Stage boundaries come from flowsite's progress callback;
# "charts" is the time spent building chart specs and drawing their SVGs inside the render stage.
CHILD = r'''
import json, os, resource, sys, time

def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

import flowsite.charts as charts
charts_time = {"wall": 0.0, "cpu": 0.0}
def timed(fn):
    def wrapper(*a, **k):
        w, c = time.perf_counter(), cpu()
        try:
            return fn(*a, **k)
        finally:
            charts_time["wall"] += time.perf_counter() - w
            charts_time["cpu"] += cpu() - c
    return wrapper
for name in ("trend_spec", "metric_spec", "flow_time_spec", "cfd_spec", "distribution_spec", "tier_spec", "vsm_spec"):
    if hasattr(charts, name):
        setattr(charts, name, timed(getattr(charts, name)))
charts.ChartRenderer.svgs = timed(charts.ChartRenderer.svgs)
counts = {"drawn": 0}
_svgs = charts.ChartRenderer.svgs
def svgs(self):
    out = _svgs(self)
    counts["drawn"] += self.drawn
    self.drawn = 0
    return out
charts.ChartRenderer.svgs = svgs

# Stage bounds on the system-wide monotonic clock: the parent, which samples this process's
# memory, files its samples under them.
marks = []
def progress(stage, message):
    marks.append((stage, time.perf_counter(), cpu(), time.monotonic()))

from flowsite._build import build
t0, c0 = time.perf_counter(), cpu()
marks.append(("config", t0, c0, time.monotonic()))
result = build(sys.argv[1], out=sys.argv[2], progress=progress)
marks.append(("end", time.perf_counter(), cpu(), time.monotonic()))
stages = {}
for (name, t, c, _), (_, t2, c2, _) in zip(marks, marks[1:]):
    s = stages.setdefault(name, {"wall": 0.0, "cpu": 0.0})
    s["wall"] += t2 - t
    s["cpu"] += c2 - c
if "render" in stages:
    stages["charts"] = {"wall": charts_time["wall"], "cpu": charts_time["cpu"]}
    stages["render"]["wall"] -= charts_time["wall"]
    stages["render"]["cpu"] -= charts_time["cpu"]
print(json.dumps({"stages": stages, "total": {"wall": marks[-1][1] - t0, "cpu": marks[-1][2] - c0}, "bounds": [(m[0], m[3]) for m in marks],
                  "files": len(result.files), "scorecards": len(result.model.scorecards), "charts": counts}))
'''


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def rss_tree(pid: int, parent_cmdline: bytes | None = None) -> int:
    """Resident bytes of process PID and its descendants."""
    # A child between fork and exec still runs the parent's program on the parent's pages: its
    # VmRSS is those pages again, not memory of its own, so it is not added.
    cmdline = _cmdline(pid)
    if parent_cmdline is not None and cmdline == parent_cmdline:
        return 0
    total = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    except OSError:
        return 0
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = task.read_text().split()
        except OSError:
            continue
        for child in children:
            total += rss_tree(int(child), cmdline)
    return total


def _peaks(samples: list[tuple[float, int]], bounds: list[tuple[str, float]]) -> dict[str, int]:
    """The largest sample within each stage's bounds."""
    peaks: dict[str, int] = {}
    for (name, start), (_, end) in zip(bounds, bounds[1:]):
        inside = [r for t, r in samples if start <= t <= end]
        if inside:
            peaks[name] = max(peaks.get(name, 0), max(inside))
    return peaks


def run_cli_build(project: Path, out: Path, cache: Path) -> float:
    """Whole-process wall seconds of `flowsite build` as a user runs it (the CLI answers a build
    with nothing to do before importing polars; the instrumented child above cannot show that)."""
    env = dict(os.environ, FLOWSITE_CACHE_DIR=str(cache), SOURCE_DATE_EPOCH="1764547200", CI="1")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flowsite", "build", str(project), "--out", str(out)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"flowsite build {project} failed")
    return wall


def run_build(project: Path, out: Path, cache: Path) -> dict:
    """One instrumented build in a child process. Its memory is sampled every 20 ms from here:
    a sampling thread inside the build took the interpreter from it 50 times a second (at L it
    made a one-value-stream rebuild a tenth slower)."""
    env = dict(os.environ, FLOWSITE_CACHE_DIR=str(cache), SOURCE_DATE_EPOCH="1764547200")
    samples: list[tuple[float, int]] = []
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(project), str(out)], env=env, stdout=out_f, stderr=err_f)
        while proc.poll() is None:
            samples.append((time.monotonic(), rss_tree(proc.pid)))
            time.sleep(0.02)
        process_wall = time.perf_counter() - t
        out_f.seek(0)
        err_f.seek(0)
        stdout, stderr = out_f.read().decode(), err_f.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.stderr.write(stderr)
        raise SystemExit(f"build of {project} failed")
    # The stages are timed from the call of `build`; what a user waits for also holds Python's
    # start, the imports and the exit.
    got = json.loads(stdout.strip().splitlines()[-1])
    peaks = _peaks(samples, got.pop("bounds"))
    for name, s in got["stages"].items():
        s["peak_rss"] = peaks.get("render" if name == "charts" else name, 0)
    got["total"]["peak_rss"] = max(peaks.values(), default=0)
    return dict(got, process_wall=process_wall)


def change_one_stream(project: Path, stream: str) -> int:
    """Move one value stream's completions an hour later: its figures and charts change, no other's do."""
    import polars as pl

    path = project / "data" / "work_items.parquet"
    df = pl.read_parquet(path)
    changed = df.with_columns(pl.when(pl.col("value_stream") == stream).then(pl.col("completed_at") + dt.timedelta(hours=1)).otherwise(pl.col("completed_at")).alias("completed_at"))
    sc_path = project / "data" / "status_changes.parquet"
    sc = pl.read_parquet(sc_path)
    ids = df.filter(pl.col("value_stream") == stream).get_column("id").implode()
    sc = sc.with_columns(pl.when(pl.col("item_id").is_in(ids) & (pl.col("status") == "Done")).then(pl.col("changed_at") + dt.timedelta(hours=1)).otherwise(pl.col("changed_at")).alias("changed_at"))
    changed.write_parquet(path, compression="zstd", statistics=True, row_group_size=1_000_000)
    sc.write_parquet(sc_path, compression="zstd", statistics=True, row_group_size=1_000_000)
    return int(df.filter(pl.col("value_stream") == stream).height)


def compare_metrics(project: Path, repeat: int) -> dict:
    """flowsite's metric stage vs DuckDB SQL vs pandas on the same loaded data; checks they agree."""
    import polars as pl

    sys.path.insert(0, str(HERE))
    import duckdb_metrics
    import flowsite_subset
    import pandas_metrics

    from flowsite.config import load_config
    from flowsite.metrics import WINDOW, compute_metrics
    from flowsite.metrics.periods import build_periods
    from flowsite.metrics import infer_as_of
    from flowsite.scorecard import build_scorecards
    from flowsite.sources import load_sources

    config = load_config(project)
    frames = load_sources(config).frames
    as_of = config.as_of or infer_as_of(frames, config.timezone)
    periods = build_periods(as_of, config.period, config.window, config.timezone)
    calendar = pl.DataFrame({"label": [p.label for p in periods], "start_at": [p.start for p in periods], "end_at": [p.end for p in periods], "weeks": [p.days / 7 for p in periods]})
    envs = list(config.environments)
    window = config.incident_window_hours
    pd_frames = {k: v.to_pandas() for k, v in frames.items() if k in ("deployments", "changes", "incidents", "work_items", "status_changes")}
    pd_cal = calendar.to_pandas()

    def best(fn) -> tuple[float, float, object]:
        walls, cpus, out = [], [], None
        for _ in range(repeat):
            r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            out = fn()
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            walls.append(time.perf_counter() - w0)
            cpus.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
        i = walls.index(min(walls))
        return walls[i], cpus[i], out

    fs_wall, fs_cpu, results = best(lambda: (lambda r: (r, build_scorecards(config, r)))(compute_metrics(config, frames))[0])
    vs_ids = [v.id for v in config.value_streams]
    sub_wall, sub_cpu, sub = best(lambda: flowsite_subset.compute(frames, periods, config, vs_ids))
    import duckdb

    con = duckdb.connect()
    db_wall, db_cpu, db = best(lambda: duckdb_metrics.compute(frames, calendar, envs, window, con))
    pd_wall, pd_cpu, pdf = best(lambda: pandas_metrics.compute(pd_frames, pd_cal, envs, window))

    subset = ["deployment_frequency", "lead_time", "change_failure_rate", "recovery_time", "flow_velocity", "flow_time"]
    fs = results.figures.filter(pl.col("metric").is_in(subset) & (pl.col("period") != WINDOW))
    # flowsite keeps a row with a null value and n = 0 where a period has no data; the others have no row.
    fs = fs.filter(pl.col("n") > 0)
    db = db.filter(pl.col("n") > 0)
    pdf = pdf.filter(pl.col("n") > 0)
    checks = {}
    for name, other in (("duckdb", db), ("pandas", pdf), ("flowsite_subset", sub.filter((pl.col("n") > 0) & (pl.col("period") != WINDOW)))):
        j = fs.join(other, on=["value_stream", "metric", "period"], how="full", coalesce=True, suffix="_o")
        missing = j.filter(pl.col("n").is_null() | pl.col("n_o").is_null()).height
        diff = j.filter(pl.col("n").is_not_null() & pl.col("n_o").is_not_null()).with_columns(
            (pl.col("value") - pl.col("value_o")).abs().alias("abs"),
            ((pl.col("value") - pl.col("value_o")).abs() / pl.max_horizontal(pl.col("value").abs(), pl.lit(1e-9))).alias("rel"),
        )
        bad = diff.filter((pl.col("n") != pl.col("n_o")) | ((pl.col("abs") > 1e-6) & (pl.col("rel") > 1e-9)) | (pl.col("value").is_null() != pl.col("value_o").is_null()))
        checks[name] = {"rows": fs.height, "compared": diff.height, "only_in_one": missing, "mismatches": bad.height,
                        "max_abs_diff": float(diff.get_column("abs").max() or 0.0), "agree": missing == 0 and bad.height == 0,
                        "examples": bad.head(3).to_dicts() if bad.height else []}
    return {
        "flowsite": {"wall": fs_wall, "cpu": fs_cpu, "what": "compute_metrics + scorecards: every metric, period, window figure and drill-down"},
        "flowsite_subset": {"wall": sub_wall, "cpu": sub_cpu, "what": "the six-metric subset with flowsite's own metric functions (flowsite_subset.py)"},
        "duckdb": {"wall": db_wall, "cpu": db_cpu, "what": "the six-metric subset in SQL (duckdb_metrics.py), Arrow tables registered zero-copy"},
        "pandas": {"wall": pd_wall, "cpu": pd_cpu, "what": "the six-metric subset in pandas (pandas_metrics.py)"},
        "ratio_vs_duckdb": fs_wall / db_wall if db_wall else None,
        "ratio_vs_pandas": fs_wall / pd_wall if pd_wall else None,
        "subset_ratio_vs_duckdb": sub_wall / db_wall if db_wall else None,
        "subset": subset,
        "checks": checks,
        "rows": {k: v.height for k, v in frames.items()},
    }


def _mb(b: float) -> str:
    return f"{b / 2**20:,.0f} MB"


def report(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for scale, r in results["scales"].items():
        if not r.get("builds"):
            _report_metrics(console, scale, r, results["repeat"])
            continue
        t = Table(title=f"Scale {scale}: {r['rows']}", title_justify="left")
        t.add_column("build")
        t.add_column("stage")
        t.add_column("wall s", justify="right")
        t.add_column("CPU s", justify="right")
        t.add_column("peak RSS", justify="right")
        for kind in ("cold", "no_change", "one_stream_changed"):
            b = r["builds"][kind]
            for st in STAGES:
                s = b["stages"].get(st)
                if s:
                    t.add_row(kind.replace("_", " "), st, f"{s['wall']:.2f}", f"{s['cpu']:.2f}", _mb(s["peak_rss"]))
            pct = f" ({b['total']['wall'] / r['builds']['cold']['total']['wall']:.0%} of cold)" if kind != "cold" else ""
            t.add_row(f"[bold]{kind.replace('_', ' ')}", "[bold]total", f"[bold]{b['total']['wall']:.2f}{pct}", f"[bold]{b['total']['cpu']:.2f}", f"[bold]{_mb(b['total']['peak_rss'])}", end_section=True)
        console.print(t)
        if results.get("builds", 1) > 1:
            console.print("  fastest of " + "; ".join(f"{kind.replace('_', ' ')} " + ", ".join(f"{w:.2f}" for w in r["builds"][kind]["all_totals"]) + " s"
                                                   for kind in ("cold", "no_change", "one_stream_changed")))
        cold_process = r["builds"]["cold"]["process_wall"]
        console.print("  whole process, start to exit (Python's start and imports included): " + "; ".join(
            f"{kind.replace('_', ' ')} {r['builds'][kind]['process_wall']:.2f} s" + (f" ({r['builds'][kind]['process_wall'] / cold_process:.0%})" if kind != "cold" else "")
            for kind in ("cold", "no_change", "one_stream_changed")))
        if "cli_no_change_wall" in r:
            console.print(f"  `flowsite build` with nothing changed, whole process: {r['cli_no_change_wall']:.2f} s ({r['cli_no_change_wall'] / cold_process:.0%} of the cold build's process)")
        console.print(f"  charts drawn: cold {r['builds']['cold']['charts']['drawn']}, one stream changed {r['builds']['one_stream_changed']['charts']['drawn']}; "
                      f"largest scorecard page {r['largest_scorecard_kb']:.0f} KB; demo generated in {r['generate_s']:.1f} s")
        _report_metrics(console, scale, r, results["repeat"])
    console.print(f"Figures written to {results['json']}")


def _report_metrics(console, scale: str, r: dict, repeat: int) -> None:
    from rich.table import Table

    m = r["metrics"]
    mt = Table(title=f"Scale {scale}: metric stage on the same loaded data (best of {repeat})", title_justify="left")
    for c in ("engine", "wall s", "CPU s", "flowsite ÷ engine", "same figures"):
        mt.add_column(c)
    mt.add_row("flowsite metric stage (all metrics)", f"{m['flowsite']['wall']:.2f}", f"{m['flowsite']['cpu']:.2f}", "1.00", "—")
    labels = {"flowsite_subset": "flowsite, the six metrics only", "duckdb": "DuckDB SQL, the six metrics", "pandas": "pandas, the six metrics"}
    for eng in ("flowsite_subset", "duckdb", "pandas"):
        c = m["checks"][eng]
        same = "yes" if c["agree"] else f"NO: {c['mismatches']} differ, {c['only_in_one']} only in one"
        mt.add_row(labels[eng], f"{m[eng]['wall']:.2f}", f"{m[eng]['cpu']:.2f}", f"{m['flowsite']['wall'] / m[eng]['wall']:.2f}", f"{same} ({c['compared']} figures)")
    mt.caption = f"six metrics: flowsite ÷ DuckDB = {m['subset_ratio_vs_duckdb']:.2f}; whole metric stage ÷ DuckDB = {m['ratio_vs_duckdb']:.2f}"
    console.print(mt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="M,L", help="comma-separated: S, M, L (default M,L)")
    ap.add_argument("--work", type=Path, default=None, help="folder for the generated projects and sites (default: a temporary folder)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each metric engine; the best is kept")
    ap.add_argument("--builds", type=int, default=1, help="runs of each kind of build (cold, nothing changed, one value stream changed); the fastest is reported")
    ap.add_argument("--metrics-only", action="store_true", help="skip the three timed builds: only the metric comparison (reuses a project generated earlier in --work)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    # Timed as installed: pip compiles a package's modules to bytecode; from a checkout (or with
    # PYTHONDONTWRITEBYTECODE set) the modules a build imports on the way would be compiled inside
    # every timed build.
    import compileall

    import flowsite

    compileall.compile_dir(Path(flowsite.__file__).parent, quiet=1)
    work = args.work or Path(tempfile.mkdtemp(prefix="flowsite-bench-"))
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "repeat": args.repeat, "builds": args.builds, "scales": {}}
    try:
        for scale in [s.strip().upper() for s in args.scales.split(",") if s.strip()]:
            project, site, cache = work / f"demo-{scale}", work / f"site-{scale}", work / f"cache-{scale}"
            if args.metrics_only and args.work and (project / "flowsite.yml").is_file():
                print(f"[{scale}] reusing the demo project in {project}", file=sys.stderr)
                metrics = compare_metrics(project, args.repeat)
                results["scales"][scale] = {"rows": metrics["rows"], "generate_s": 0.0, "builds": {}, "metrics": metrics}
                continue
            for p in (project, site, cache):
                shutil.rmtree(p, ignore_errors=True)
            print(f"[{scale}] generating the demo project …", file=sys.stderr)
            t = time.perf_counter()
            from flowsite.demo import create_demo

            rows = create_demo(project, scale)
            gen = time.perf_counter() - t
            if args.metrics_only:
                print(f"[{scale}] metric stage: flowsite vs DuckDB SQL vs pandas …", file=sys.stderr)
                results["scales"][scale] = {"rows": rows, "generate_s": gen, "builds": {}, "metrics": compare_metrics(project, args.repeat)}
                continue
            # Each kind of build runs --builds times; the fastest run is reported (as timeit does:
            # slower runs measure what else the machine was doing), with every run's total kept.
            runs: dict[str, list[dict]] = {"cold": [], "no_change": [], "one_stream_changed": []}
            for i in range(args.builds):
                print(f"[{scale}] cold build ({i + 1}/{args.builds}) …", file=sys.stderr)
                for p in (site, cache):
                    shutil.rmtree(p, ignore_errors=True)
                runs["cold"].append(run_build(project, site, cache))
            for i in range(args.builds):
                print(f"[{scale}] rebuild, nothing changed ({i + 1}/{args.builds}) …", file=sys.stderr)
                runs["no_change"].append(run_build(project, site, cache))
            cli_no_change = []
            for i in range(args.builds):
                print(f"[{scale}] `flowsite build`, nothing changed ({i + 1}/{args.builds}) …", file=sys.stderr)
                cli_no_change.append(run_cli_build(project, site, cache))
            pages = sorted((site / "latest" / "value-streams").glob("*/index.html"))
            largest = max((p.stat().st_size for p in pages), default=0) / 1024
            for i in range(args.builds):
                print(f"[{scale}] rebuild, one value stream changed ({i + 1}/{args.builds}) …", file=sys.stderr)
                change_one_stream(project, f"vs-{i + 2:03d}")  # a different value stream each time
                runs["one_stream_changed"].append(run_build(project, site, cache))
            builds = {kind: dict(min(rs, key=lambda b: b["total"]["wall"]), all_totals=[round(b["total"]["wall"], 3) for b in rs]) for kind, rs in runs.items()}
            print(f"[{scale}] metric stage: flowsite vs DuckDB SQL vs pandas …", file=sys.stderr)
            metrics = compare_metrics(project, args.repeat)
            results["scales"][scale] = {"rows": rows, "generate_s": gen, "builds": builds, "metrics": metrics, "largest_scorecard_kb": largest,
                                        "cli_no_change_wall": min(cli_no_change)}
            if not args.work:
                for p in (site, cache):
                    shutil.rmtree(p, ignore_errors=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    # A metric-only run writes beside the full results, not over them.
    path = OUT / ("metrics.json" if args.metrics_only else "results.json")
    results["json"] = str(path.relative_to(HERE.parent))
    path.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    report(results)


if __name__ == "__main__":
    main()
