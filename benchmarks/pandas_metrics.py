"""The benchmark's comparison subset written in straightforward pandas (the same definitions as
duckdb_metrics.py): groupby, merge and merge_asof, as a data analyst would write it."""
from __future__ import annotations

import pandas as pd
import polars as pl

def _label(ts: pd.Series, cal: pd.DataFrame) -> pd.Series:
    """Calendar label of each timestamp (NaN outside the window)."""
    idx = cal["start_at"].searchsorted(ts, side="right") - 1
    inside = (idx >= 0) & (ts < cal["end_at"].iloc[-1]) & ts.notna().to_numpy()
    out = pd.Series(pd.NA, index=ts.index, dtype="object")
    out[inside] = cal["label"].to_numpy()[idx[inside]]
    return out


def _long(df: pd.DataFrame, metric: str, value: str, n: str) -> pd.DataFrame:
    return pd.DataFrame({"value_stream": df["value_stream"], "metric": metric, "period": df["period"], "value": df[value].astype(float), "n": df[n].astype("int64")})


def compute(frames: dict[str, pd.DataFrame], calendar: pd.DataFrame, environments: list[str], window_hours: float) -> pl.DataFrame:
    cal = calendar.sort_values("start_at").reset_index(drop=True)
    deps = frames["deployments"]
    prod = deps[(deps["environment"].isna() | deps["environment"].isin(environments)) & (deps["result"] == "success")]
    prod = prod[["id", "value_stream", "finished_at"]]
    first = prod.groupby("value_stream", as_index=False)["finished_at"].min().rename(columns={"finished_at": "first_at"})
    out = []

    # Deployment frequency, zero once a stream has deployed.
    counts = prod.assign(period=_label(prod["finished_at"], cal)).dropna(subset=["period"]).groupby(["value_stream", "period"]).size().rename("n").reset_index()
    grid = first.merge(cal, how="cross")
    grid = grid[grid["first_at"] < grid["end_at"]].rename(columns={"label": "period"})
    grid = grid.merge(counts, on=["value_stream", "period"], how="left").fillna({"n": 0})
    grid["value"] = grid["n"] / grid["weeks"]
    out.append(_long(grid, "deployment_frequency", "value", "n"))

    # Lead time for changes.
    ch = frames["changes"].merge(prod[["id", "finished_at"]].rename(columns={"id": "deployment_id"}), on="deployment_id", how="left")
    if "deployed_at" in ch.columns:
        ch["finished_at"] = ch["finished_at"].fillna(ch["deployed_at"])
    ch = ch.merge(first, on="value_stream", how="left")
    ch = ch[ch["finished_at"].notna() & (ch["finished_at"] > ch["first_commit_at"]) & ch["first_at"].notna() & (ch["first_commit_at"] >= ch["first_at"])]
    ch = ch.assign(hours=(ch["finished_at"] - ch["first_commit_at"]).dt.total_seconds() / 3600, period=_label(ch["finished_at"], cal)).dropna(subset=["period"])
    lt = ch.groupby(["value_stream", "period"])["hours"].agg(["median", "size"]).reset_index()
    out.append(_long(lt, "lead_time", "median", "size"))

    # Incidents -> causing deployment; change failure rate; recovery time.
    inc = frames["incidents"].sort_values("created_at")
    near = pd.merge_asof(inc, prod.rename(columns={"id": "dep_id", "finished_at": "dep_at"}).sort_values("dep_at"), left_on="created_at", right_on="dep_at",
                         by="value_stream", direction="backward", tolerance=pd.Timedelta(hours=window_hours))
    explicit = near["caused_by_deployment"]
    near["deployment_id"] = explicit.where(explicit.isin(prod["id"]), None).where(explicit.notna(), near["dep_id"])
    failed = set(near["deployment_id"].dropna())
    cfr = prod.assign(failed=prod["id"].isin(failed) * 100.0, period=_label(prod["finished_at"], cal)).dropna(subset=["period"])
    cfr = cfr.groupby(["value_stream", "period"])["failed"].agg(["mean", "size"]).reset_index()
    out.append(_long(cfr, "change_failure_rate", "mean", "size"))
    rec = near[near["deployment_id"].notna() & near["resolved_at"].notna()]
    rec = rec.assign(hours=(rec["resolved_at"] - rec["created_at"]).dt.total_seconds() / 3600, period=_label(rec["resolved_at"], cal)).dropna(subset=["period"])
    rec = rec.groupby(["value_stream", "period"])["hours"].agg(["median", "size"]).reset_index()
    out.append(_long(rec, "recovery_time", "median", "size"))

    # Flow: start and done from the status history.
    sc = frames["status_changes"]
    sc = sc[sc["category"].notna()].sort_values(["item_id", "changed_at"], kind="stable")
    final = sc.groupby("item_id")["category"].last().rename("final")
    sc = sc.join(final, on="item_id")
    last_other = sc[sc["category"] != sc["final"]].groupby("item_id")["changed_at"].max().rename("last_other")
    sc = sc.join(last_other, on="item_id")
    run = sc[(sc["category"] == sc["final"]) & (sc["last_other"].isna() | (sc["changed_at"] > sc["last_other"]))]
    final_at = run.groupby("item_id").agg(final_at=("changed_at", "min"), final=("final", "first"))
    start = sc[sc["category"].isin(["waiting", "active"])].groupby("item_id")["changed_at"].min().rename("sc_start")
    wi = frames["work_items"].join(final_at, on="id").join(start, on="id")
    completed = wi["completed_at"] if "completed_at" in wi.columns else pd.Series(pd.NaT, index=wi.index)
    wi["done_at"] = wi["final_at"].where(wi["final"] == "done", completed.where(wi["final"].isna()))
    start0 = wi["sc_start"]
    if "started_at" in wi.columns:
        start0 = start0.fillna(wi["started_at"])
    start0 = start0.fillna(wi["created_at"])
    done = wi[wi["done_at"].notna()].copy()
    done["days"] = (done["done_at"] - start0[done.index].where(start0[done.index] < done["done_at"], done["done_at"])).dt.total_seconds() / 86400
    done["period"] = _label(done["done_at"], cal)
    flow = done.dropna(subset=["period"]).groupby(["value_stream", "period"])["days"].agg(["median", "size"]).reset_index()
    out.append(_long(flow, "flow_velocity", "size", "size"))
    out.append(_long(flow, "flow_time", "median", "size"))
    return pl.from_pandas(pd.concat(out, ignore_index=True))
