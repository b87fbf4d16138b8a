"""A tiny valid project (two value streams, a few rows per dataset) that tests break one piece at a time.

Shared by tests/bad_inputs, tests/security and tests/reliability. Builds in about a second.
"""
from __future__ import annotations

from pathlib import Path

import yaml

CONFIG = {
    "name": "Tiny Co",
    "description": "A tiny project for hostile-input tests.",
    "period": "month",
    "window": 3,
    "timezone": "UTC",
    "sources": {
        "work_items": "data/work_items.csv",
        "deployments": "data/deployments.csv",
        "incidents": "data/incidents.csv",
        "kpis": "data/kpis.csv",
    },
    "value_streams": [
        {
            "id": "shop",
            "name": "Shop",
            "description": "The web shop.",
            "owners": ["Ann (product)"],
            "investment": {"feature": 0.6, "defect": 0.2, "risk": 0.1, "debt": 0.1},
            "kpis": [{"id": "conversion", "name": "Conversion", "unit": "%", "target": 2.5}],
        },
        {"id": "app", "name": "App", "owners": ["Bo"]},
    ],
    "site": {"title": "Tiny scorecards"},
}

WORK_ITEMS = """\
id,type,value_stream,title,created_at,completed_at
W-1,feature,shop,First feature,2026-07-02T09:00:00Z,2026-07-09T17:00:00Z
W-2,defect,shop,A bug,2026-07-10T09:00:00Z,2026-07-12T10:00:00Z
W-3,feature,app,App feature,2026-08-03T09:00:00Z,2026-08-20T12:00:00Z
W-4,debt,app,Cleanup,2026-08-05T09:00:00Z,2026-09-01T12:00:00Z
W-5,feature,shop,Second feature,2026-09-01T09:00:00Z,2026-09-15T12:00:00Z
"""

DEPLOYMENTS = """\
id,value_stream,environment,result,finished_at
d-1,shop,production,success,2026-07-09T18:00:00Z
d-2,shop,production,failure,2026-08-01T18:00:00Z
d-3,app,production,success,2026-08-21T18:00:00Z
d-4,shop,production,success,2026-09-16T18:00:00Z
"""

INCIDENTS = """\
id,value_stream,created_at,resolved_at
INC-1,shop,2026-08-01T19:00:00Z,2026-08-01T21:00:00Z
"""

KPIS = """\
value_stream,kpi,date,value
shop,conversion,2026-07-31,2.3
shop,conversion,2026-08-31,2.4
shop,conversion,2026-09-30,2.6
"""

PAGE = """\
---
title: About
---
# About

Some *narrative* with [a link](https://example.org/).
"""

FILES = {
    "data/work_items.csv": WORK_ITEMS,
    "data/deployments.csv": DEPLOYMENTS,
    "data/incidents.csv": INCIDENTS,
    "data/kpis.csv": KPIS,
    "pages/about.md": PAGE,
}


def write_tiny(root: Path, config: dict | None = None, files: dict[str, str | bytes | None] | None = None, *, config_text: str | None = None) -> Path:
    """Write the tiny project into root. `files` overrides (None deletes); `config_text` replaces the YAML verbatim."""
    root.mkdir(parents=True, exist_ok=True)
    text = config_text if config_text is not None else yaml.safe_dump(config if config is not None else CONFIG, sort_keys=False, allow_unicode=True)
    (root / "flowsite.yml").write_text(text, encoding="utf-8")
    merged: dict[str, str | bytes | None] = {**FILES, **(files or {})}
    for rel, content in merged.items():
        p = root / rel
        if content is None:
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return root
