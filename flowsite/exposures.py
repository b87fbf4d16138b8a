"""dbt exposures for the scorecards, so they show up in dbt's lineage graph and docs.

One exposure per value stream scorecard (type `dashboard`), depending on every dbt model that feeds a
dataset through `dbt_ref`. The file is plain dbt YAML (`version: 2`, `exposures:`) written into the dbt
project's model folder by `flowsite dbt-exposures`; dbt picks it up on its next parse.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from .config import Config
from .errors import BuildError, Problem

HEADER = "# Written by `flowsite dbt-exposures` from {config}; regenerate it rather than editing it.\n"


def exposure_name(value_stream: str) -> str:
    """dbt wants names made of letters, digits and underscores."""
    return "flowsite_" + re.sub(r"[^a-z0-9_]", "_", value_stream.lower())


def exposures(config: Config) -> dict:
    refs = sorted({spec.dbt_ref for spec in config.sources.values() if spec.dbt_ref})
    if not refs:
        raise BuildError(problems=[Problem("no dataset reads a dbt model, so there is nothing to expose", file=str(config.config_file), key="sources", hint="name a model with `dbt_ref:` under a dataset")])
    base = (config.base_url or "").rstrip("/")
    items = []
    streams = config.value_streams or ()
    for vs in streams:
        item = {
            "name": exposure_name(vs.id),
            "label": f"{vs.name} scorecard",
            "type": "dashboard",
            "maturity": "medium",
            "description": (vs.description + "\n\n" if vs.description else "") + f"flowsite scorecard of the {vs.name} value stream ({config.title}).",
            "depends_on": [f"ref('{r}')" for r in refs],
            "owner": {"name": vs.owners[0] if vs.owners else config.name},
            "meta": {"generated_by": "flowsite", "value_stream": vs.id},
        }
        if base:
            item["url"] = f"{base}/latest/value-streams/{vs.id}/"
        items.append(item)
    if not items:
        item = {"name": "flowsite_scorecards", "label": config.title, "type": "dashboard", "maturity": "medium", "description": f"flowsite scorecards of {config.name}.", "depends_on": [f"ref('{r}')" for r in refs], "owner": {"name": config.name}, "meta": {"generated_by": "flowsite"}}
        if base:
            item["url"] = f"{base}/latest/"
        items.append(item)
    return {"version": 2, "exposures": items}


def write_exposures(config: Config, out: Path | None = None) -> Path:
    """Write the exposures YAML (default: `dbt.exposures` inside the dbt project); returns its path."""
    if config.dbt is None and out is None:
        raise BuildError(problems=[Problem("expected a top-level `dbt:` section naming the dbt project", file=str(config.config_file), key="dbt", hint="add `dbt: {project: path/to/dbt_project}` or pass --out")])
    doc = exposures(config)
    path = out if out is not None else config.dbt.project_dir / config.dbt.exposures
    text = HEADER.format(config=config.config_file.name) + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BuildError(problems=[Problem(f"cannot write: {exc.strerror}", file=str(path))]) from None
    return path
