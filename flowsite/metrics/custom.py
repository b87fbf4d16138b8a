"""Metrics as code: the project's `metrics:` SQL, run over the canonical datasets with polars' SQL context.

A built-in plugin: it registers a MetricDef per configured metric and computes their figures through
the same hooks a third-party plugin uses. A query returns `value_stream`, `value` and either
`period` + `n` (figures as they are) or a timestamp column (rows bucketed into periods and combined
with the metric's `aggregate`).
"""
from __future__ import annotations

import re

import polars as pl

from ..config import DATASETS, Config, CustomMetric
from ..errors import ConfigError, Problem
from ..hooks import hookimpl
from ._frame import FIGURE_SCHEMA, empty_figures, summarise
from .catalogue import BUILTIN_IDS, MetricDef
from .periods import WINDOW, Period

_AGG = {
    "sum": lambda c: c.sum(),
    "mean": lambda c: c.mean(),
    "median": lambda c: c.median(),
    "min": lambda c: c.min(),
    "max": lambda c: c.max(),
    "count": lambda c: c.count(),
    "p85": lambda c: c.quantile(0.85, "linear"),
    "p95": lambda c: c.quantile(0.95, "linear"),
}


def referenced_datasets(sql: str) -> tuple[str, ...]:
    """Canonical datasets a query names (whole words), in catalogue order."""
    return tuple(d for d in DATASETS if re.search(rf"\b{d}\b", sql, re.IGNORECASE))


def definition(m: CustomMetric) -> MetricDef:
    return MetricDef(m.id, m.name, m.group, m.unit, m.direction, m.statistic, m.description or f"Defined in flowsite.yml as SQL:\n\n{m.sql.strip()}",
                     referenced_datasets(m.sql), decimals=m.decimals)


def _problem(config: Config, m: CustomMetric, message: str, hint: str | None = None) -> Problem:
    index = next(i for i, x in enumerate(config.metrics) if x.id == m.id)
    return Problem(f"metric {m.id!r}: {message}", file=str(config.config_file), line=m.sql_line, key=f"metrics[{index}].sql", hint=hint)


def _position(sql: str, message: str) -> str:
    """'line L, column C' of the SQL the error points at: the parser's own position, else the named identifier."""
    m = re.search(r"Line: (\d+), Column: (\d+)", message)
    if m:
        return f"SQL line {m.group(1)}, column {m.group(2)}"
    m = re.search(r"""(?:column|relation|table|function)\s+["'`]?([A-Za-z_][\w.]*)["'`]?""", message)
    if m:
        name = m.group(1).split(".")[-1]
        for i, line in enumerate(sql.splitlines(), 1):
            hit = re.search(rf"\b{re.escape(name)}\b", line)
            if hit:
                return f"SQL line {i}, column {hit.start() + 1}"
    return "SQL"


def run_query(config: Config, m: CustomMetric, frames: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
    """The query's result, or None when a dataset it reads is not configured (its figures show no data)."""
    if any(d not in frames for d in referenced_datasets(m.sql)):
        return None
    ctx = pl.SQLContext({name: df for name, df in frames.items()}, eager=True)
    try:
        out = ctx.execute(m.sql)
    except Exception as exc:  # noqa: BLE001 - polars raises several error types for SQL; all are the user's query
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"aborted: the SQL of metric {m.id!r} failed", problems=[_problem(
            config, m, f"{_position(m.sql, str(exc))}: {first}",
            hint="tables: " + ", ".join(sorted(frames)) + "; docs/datasets.md lists their columns")]) from None
    return out


def figures_of(config: Config, m: CustomMetric, out: pl.DataFrame, periods: list[Period]) -> pl.DataFrame:
    cols = out.columns
    missing = [c for c in ("value_stream", "value") if c not in cols]
    temporal = [c for c, t in out.schema.items() if isinstance(t, (pl.Datetime, pl.Date)) and c not in ("value_stream", "value")]
    if not missing and "period" not in cols and not temporal:
        missing.append("period (or a timestamp column)")
    if "period" in cols and "n" not in cols:
        missing.append("n")
    if missing:
        raise ConfigError(f"aborted: the SQL of metric {m.id!r} returns the wrong columns", problems=[_problem(
            config, m, f"expected columns {', '.join(missing)} in the result, got {', '.join(cols) or 'none'}",
            hint="alias them, e.g. SELECT value_stream, period, COUNT(*) AS value, COUNT(*) AS n ...")])
    if not out.schema["value"].is_numeric() and out.schema["value"] != pl.Null:
        raise ConfigError(f"aborted: the SQL of metric {m.id!r} returns a non-numeric value", problems=[_problem(
            config, m, f"expected a numeric `value` column, got {out.schema['value']}", hint="CAST(... AS DOUBLE)")])
    if "period" in cols:
        labels = {p.label for p in periods} | {WINDOW}
        res = out.select(pl.col("value_stream").cast(pl.String), pl.lit(m.id).alias("metric"), pl.col("period").cast(pl.String),
                         pl.col("value").cast(pl.Float64), pl.col("n").cast(pl.Int64))
        return res.filter(pl.col("period").is_in(list(labels)))
    ts = temporal[0]
    dtype = out.schema[ts]
    if dtype == pl.Date:  # a calendar date of the project's time zone
        when = pl.col(ts).cast(pl.Datetime("us")).dt.replace_time_zone(config.timezone).dt.convert_time_zone("UTC")
    elif getattr(dtype, "time_zone", None):
        when = pl.col(ts).dt.convert_time_zone("UTC")
    else:  # naive timestamps come from the UTC tables
        when = pl.col(ts).dt.replace_time_zone("UTC")
    rows = out.with_columns(when)
    rows = rows.with_columns(pl.col("value").cast(pl.Float64), pl.col("value_stream").cast(pl.String))
    n = pl.col("n").sum() if "n" in cols else pl.len()
    return summarise(rows, ts, periods, config.period, config.timezone, [(m.id, _AGG[m.aggregate](pl.col("value")), n)])


@hookimpl
def register_metrics(config):
    if config is None:
        return []
    problems = []
    for i, m in enumerate(config.metrics):
        if m.id in BUILTIN_IDS:
            problems.append(Problem(f"expected an id of your own, got the built-in metric id {m.id!r}", file=str(config.config_file), key=f"metrics[{i}].id",
                                    hint="choose another id; to set a built-in metric's target use `targets:`"))
    if problems:
        raise ConfigError(f"aborted with {len(problems)} configuration error(s) in {config.config_file}", problems=problems)
    return [definition(m) for m in config.metrics]


@hookimpl
def compute_figures(config, frames, periods):
    if not config.metrics:
        return None
    parts = [empty_figures()]
    for m in config.metrics:
        out = run_query(config, m, frames)
        if out is not None:
            parts.append(figures_of(config, m, out, periods).select(list(FIGURE_SCHEMA)).cast(FIGURE_SCHEMA))
    return pl.concat(parts, how="vertical_relaxed")
