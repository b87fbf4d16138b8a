"""An example flowsite plugin: a `deploy_days` metric, an `example-tsv` source preset and two stage hooks.

Installed by tests/plugins/test_example_plugin.py with pip into a temporary folder; read it as a
template for your own plugin (see docs/plugins.md).
"""
from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from flowsite.hooks import hookimpl
from flowsite.metrics.catalogue import MetricDef
from flowsite.metrics.periods import WINDOW, period_label
from flowsite.sources._model import FILE, ROW, RawFrame

DEPLOY_DAYS = MetricDef(
    "deploy_days", "Deployment days", "delivery", "days", "higher", "distinct days with a successful production deployment",
    "Number of calendar days (project time zone) in the period with at least one successful production deployment.",
    ("deployments",), decimals=0,
)


@hookimpl
def register_metrics():
    return [DEPLOY_DAYS]


@hookimpl
def compute_figures(config, frames, periods):
    df = frames.get("deployments")
    if df is None:
        return None
    prod = df.filter(pl.col("environment").str.to_lowercase().is_in(list(config.environments)) & (pl.col("result") == "success"))
    prod = prod.filter((pl.col("finished_at") >= periods[0].start) & (pl.col("finished_at") < periods[-1].end))
    prod = prod.with_columns(period_label("finished_at", config.period, config.timezone).alias("period"),
                             pl.col("finished_at").dt.convert_time_zone(config.timezone).dt.date().alias("day"))
    per = prod.group_by("value_stream", "period").agg(pl.col("day").n_unique().alias("value"), pl.len().alias("n"))
    whole = prod.group_by("value_stream").agg(pl.col("day").n_unique().alias("value"), pl.len().alias("n")).with_columns(pl.lit(WINDOW).alias("period"))
    out = pl.concat([per, whole.select(per.columns)])
    return out.select("value_stream", pl.lit("deploy_days").alias("metric"), "period", pl.col("value").cast(pl.Float64), pl.col("n").cast(pl.Int64))


def read_example_tsv(config, spec):
    """`format: example-tsv`: a tab-separated export whose header names the canonical columns."""
    path = config.resolve(spec.path)
    frame = pl.read_csv(path, separator="\t", infer_schema=False).with_row_index(ROW, offset=2).with_columns(
        pl.lit(spec.path).alias(FILE), pl.col(ROW).cast(pl.Int64))
    return RawFrame(frame=frame, origin=spec.path, timezone=spec.timezone, date_format=spec.date_format)


@hookimpl
def register_presets():
    return {"example-tsv": read_example_tsv}


@hookimpl
def on_page_context(template, context):
    if template == "overview.html":
        return {**context, "version_title": context["version_title"] + " (example plugin)"}
    return None


@hookimpl
def on_post_build(result):
    log = os.environ.get("FLOWSITE_EXAMPLE_PLUGIN_LOG")
    if log:
        with Path(log).open("a", encoding="utf-8") as fh:
            fh.write(f"built {result.version} with {len(result.files)} files\n")
