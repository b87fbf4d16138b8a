"""Versioned JSON and CSV artifacts: data/metrics.json (with schema_version) and its CSV twins."""
from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
from typing import Any, Callable

import polars as pl

from . import __version__
from .metrics import MetricResults
from .metrics._frame import stream_blocks
from .scorecard import SiteModel

SCHEMA_VERSION = "flowsite/metrics/v1"


def generated_at(model_as_of: dt.date) -> str:
    """Reproducible timestamp: SOURCE_DATE_EPOCH when set, else the end of the as-of day."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.datetime.combine(model_as_of, dt.time(23, 59, 59), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(v: float | None) -> float | None:
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return None
    return round(float(v), 6)


def metrics_document(model: SiteModel, results: MetricResults, version: str, version_title: str, *, figures: bool = True) -> dict:
    """The document of data/metrics.json. `figures=False` leaves out the figure list (hundreds of
    thousands of entries at scale), which `data_files` then writes straight from the frame."""
    cards = []
    for c in model.scorecards:
        cards.append({
            "id": c.id, "name": c.name, "owners": list(c.owners), "tier": c.tier,
            "alignment": {"status": c.alignment.status.value, "on_track": c.alignment.on_track, "at_risk": c.alignment.at_risk, "off_track": c.alignment.off_track, "no_target": c.alignment.no_target},
            "figures": [
                {"metric": f.metric, "name": f.name, "unit": f.unit, "value": _num(f.value), "n": f.n, "period": f.period, "target": _num(f.target),
                 "at_risk": _num(f.at_risk), "direction": f.direction, "status": f.status.value, "tier": f.tier, "window_value": _num(f.window_value), "window_n": f.window_n}
                for f in c.figures
            ],
        })
    return {
        "metadata": {
            "schema_version": SCHEMA_VERSION,
            "flowsite_version": __version__,
            "generated_at": generated_at(model.as_of),
            "project": model.name,
            "version": version,
            "version_title": version_title,
            "as_of": model.as_of.isoformat(),
            "period": model.period,
            "periods": list(model.periods),
            "profile": model.profile,
            "benchmark": model.benchmark_id,
        },
        "scorecards": cards,
        **({"figures": _figure_dicts(results)} if figures else {}),
    }


def _figure_dicts(results: MetricResults) -> list[dict]:
    return [
        {"value_stream": vs, "metric": m, "period": p, "value": _num(v), "n": int(n or 0)}
        for vs, m, p, v, n in results.figures.sort("value_stream", "metric", "period").iter_rows()
    ]


ITEM_SEP = ",\n  "  # between two elements of a top-level list in dumps_json


def _figure_lines(results: MetricResults, block: Callable[[str, Callable[[], str]], str] | None = None) -> list[str]:
    """The JSON of each entry `_figure_dicts` makes, as `dumps_json` writes it, without making the
    dicts: texts encoded once each (a few hundred distinct), numbers as json writes them.
    `block(value stream, make)`: one value stream's lines joined as `dumps_json` joins them (the
    incremental build keeps them from the last build); the list then holds one such block each."""
    df = results.figures.sort("value_stream", "metric", "period")
    memo: dict = {}

    def text(x) -> str:
        got = memo.get(x)
        if got is None:
            got = memo[x] = json.dumps(x, ensure_ascii=False)
        return got

    def lines(part: pl.DataFrame) -> list[str]:
        cols = [part.get_column(c).to_list() for c in ("value_stream", "metric", "period", "value", "n")]
        out = []
        for vs, m, p, v, n in zip(*cols):
            num = _num(v)
            out.append(f'{{"metric": {text(m)}, "n": {int(n or 0)}, "period": {text(p)}, "value": {"null" if num is None else float.__repr__(num)}, "value_stream": {text(vs)}}}')
        return out

    if block is None:
        return lines(df)
    blocks = []
    for vs, start, n in stream_blocks(df):
        def make(part: pl.DataFrame = df.slice(start, n)) -> str:
            return ITEM_SEP.join(lines(part))
        blocks.append(make() if vs is None else block(vs, make))
    return blocks


def item_json(value) -> str:
    """One element of a top-level list of `dumps_json`, as it writes it."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)


def dumps_json(doc: dict, encoded: dict[str, list[str]] | None = None) -> bytes:
    """Sorted keys; a top-level list puts one compact element per line (readable, diffable, and
    written by json's C encoder: indenting every level takes its pure-Python path, seconds at scale).
    `encoded`: top-level lists given as their elements' JSON already (see `item_json`)."""
    one = item_json
    encoded = encoded or {}
    parts = []
    for key in sorted(set(doc) | set(encoded)):
        if key in encoded:
            lines = encoded[key]
            parts.append(f" {one(key)}: " + ("[\n  " + ITEM_SEP.join(lines) + "\n ]" if lines else "[]"))
            continue
        value = doc[key]
        if isinstance(value, list) and value:
            body = "[\n  " + ITEM_SEP.join(one(v) for v in value) + "\n ]"
        else:
            body = json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False).replace("\n", "\n ")
        parts.append(f" {one(key)}: {body}")
    return ("{\n" + ",\n".join(parts) + "\n}\n").encode("utf-8")


def csv_bytes(df: pl.DataFrame, *, header: bool = True) -> bytes:
    """One line per row, each row's text depending on that row alone: the CSV of a frame is the
    header followed by the header-less CSVs of its slices, in order."""
    out = df.with_columns([pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%SZ") for c, t in df.schema.items() if isinstance(t, pl.Datetime)])
    buf = io.BytesIO()
    out.write_csv(buf, include_header=header)
    return buf.getvalue()


def csv_header(columns: list[str]) -> bytes:
    """The header line `csv_bytes` writes for these columns, made without polars: in an
    incremental build it is asked for while the cache threads keep polars' workers busy, and a
    call into polars, however small, waited behind them."""
    def field(name: str) -> str:
        if name == "" or any(c in name for c in ',"\n\r'):
            return '"' + name.replace('"', '""') + '"'
        return name

    return (",".join(field(c) for c in columns) + "\n").encode("utf-8")


def data_files(model: SiteModel, results: MetricResults, version: str, version_title: str, document: dict | None = None,
               drill_csv: Callable[[str, pl.DataFrame], bytes] | None = None,
               figure_block: Callable[[str, Callable[[], str]], str] | None = None,
               card_json: Callable[[Any, Callable[[], str]], str] | None = None,
               figures_csv: Callable[[pl.DataFrame], bytes] | None = None) -> dict[str, bytes]:
    """Relative path (under the version folder) -> bytes. `document`: the metrics document when the
    caller has already built it; `drill_csv(name, frame)`: makes a drill-down CSV (the incremental
    build copies unchanged value streams' rows from the last build's file, as a publish.Spliced
    file); `figure_block`: see `_figure_lines`; `card_json(scorecard, make)`: a scorecard's entry
    of the document's scorecard list as JSON, `make()` (the incremental build keeps it with the
    scorecard); `figures_csv(frame)`: makes data/figures.csv (as `drill_csv` does a drill-down CSV)."""
    document = document if document is not None else metrics_document(model, results, version, version_title, figures=False)
    encoded = {}
    if "figures" not in document:
        encoded["figures"] = _figure_lines(results, figure_block)
    if card_json is not None:
        encoded["scorecards"] = [card_json(card, lambda entry=entry: item_json(entry)) for card, entry in zip(model.scorecards, document["scorecards"], strict=True)]
    files = {"data/metrics.json": dumps_json(document, encoded)}
    figures = results.figures.sort("value_stream", "metric", "period")
    files["data/figures.csv"] = figures_csv(figures) if figures_csv is not None else csv_bytes(figures)
    for name, df in sorted(results.drilldown.items()):
        files[f"data/{name}.csv"] = drill_csv(name, df) if drill_csv is not None else csv_bytes(df)
    return files
