"""Chart specs filled into per-kind templates are exactly the specs Altair builds chart by chart."""
from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from flowsite import charts
from flowsite.config import load_config
from flowsite.metrics import compute_metrics
from flowsite.scorecard import build_scorecards
from flowsite.sources import load_sources


def _put_rows(node, datas):
    if isinstance(node, dict):
        v = node.get("values")
        if isinstance(v, list) and len(v) == 1 and isinstance(v[0], dict) and charts._ROWS_KEY in v[0]:
            node["values"] = datas[v[0][charts._ROWS_KEY]]
        else:
            for child in node.values():
                _put_rows(child, datas)
    elif isinstance(node, list):
        for child in node:
            _put_rows(child, datas)
    return node


def _all_specs(model, results) -> list[str]:
    out = []
    labels = list(model.periods)
    names = {c.id: c.name for c in model.scorecards}
    for metric in sorted(set(results.figures.get_column("metric").to_list())):
        out.append(charts.metric_spec(metric, "days", results.figures.filter(pl.col("metric") == metric), names, labels))
    for card in model.scorecards:
        if card.tier:
            out.append(charts.tier_spec(card, model.benchmark_title))
        if card.map is not None:
            out.append(charts.vsm_spec(card))
        out.append(charts.distribution_spec({"feature": 50.0, "defect": None, "risk": 10.0, "debt": 40.0}, card.investment, card.name))
        out.append(charts.cfd_spec([{"day": "2026-01-05", "state": "done", "items": 3, "order": 0}, {"day": "2026-01-05", "state": "in progress", "items": 2, "order": 1}], card.name))
        out.append(charts.flow_time_spec([1.0, 2.5, 7.25], card.name, 2.5, None))
        out.append(charts.flow_time_spec([1.0, 2.5, 7.25, 30.0], card.name, 2.5, 6.0))
        out.extend(charts.trend_spec(f, card.name) for f in card.figures)
    return [json.dumps(s, sort_keys=True) for s in out]


def test_templated_specs_equal_altair_per_chart(sample_project: Path, monkeypatch):
    config = load_config(sample_project)
    results = compute_metrics(config, load_sources(config).frames)
    model = build_scorecards(config, results)
    charts._TEMPLATES.clear()
    templated = _all_specs(model, results)
    per_card = [k for k in charts._TEMPLATES if k[0] != "metric"]  # a metric page's chart is one of a kind
    assert len(per_card) < len(templated) / 3  # kinds are shared across scorecards' charts

    def per_chart(key, make, datas, title, description):
        """The spec Altair builds for this chart alone."""
        import altair as alt

        chart = make(alt, charts._markers(alt, len(datas))).properties(title=title, description=description)
        spec = _put_rows(chart.to_dict(validate=False), datas)
        spec["config"] = charts.CONFIG
        spec.pop("$schema", None)
        return spec

    monkeypatch.setattr(charts, "_templated", per_chart)
    assert _all_specs(model, results) == templated


def test_a_rebuild_with_cached_chart_templates_does_not_import_altair(sample_project: Path, cache_dir: Path, tmp_path: Path):
    """Altair is imported only to make a chart template: a rebuild after one value stream's data
    changed takes every template from the cache (a fifth of a second of imports saved)."""
    import subprocess
    import sys

    from tests.perf.test_incremental_streams import CATALOG_ITEM, _append

    code = "import sys; from flowsite import build; build(sys.argv[1], out=sys.argv[2]); print('altair' in sys.modules)"

    def imported_altair() -> bool:
        proc = subprocess.run([sys.executable, "-c", code, str(sample_project), str(tmp_path / "site")], capture_output=True, text=True, check=True)
        return proc.stdout.strip().splitlines()[-1] == "True"

    assert imported_altair()  # the cold build makes the templates
    _append(sample_project, "work_items.csv", CATALOG_ITEM)
    assert not imported_altair()
