"""A small project for the workflow, plugin and docs tests: two value streams, three months, builds in about a second."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import write_project

CONFIG = """\
name: Small Co
period: month
window: 3
as_of: 2026-09-30
timezone: UTC
sources:
  work_items: data/work_items.csv
  deployments: data/deployments.csv
targets:
  deployment_frequency: {target: 1, at_risk: 0.5}
  flow_time: {target: 5, at_risk: 10}
value_streams:
  - {id: shop, name: Shop, owners: [Ann]}
  - {id: app, name: App}
"""

WORK_ITEMS = """\
id,type,value_stream,title,created_at,completed_at
W-1,feature,shop,First feature,2026-07-02T09:00:00Z,2026-07-09T09:00:00Z
W-2,defect,shop,A bug,2026-07-10T09:00:00Z,2026-07-12T09:00:00Z
W-3,feature,app,App feature,2026-08-03T09:00:00Z,2026-08-20T09:00:00Z
W-4,debt,app,Cleanup,2026-08-05T09:00:00Z,2026-09-01T09:00:00Z
W-5,feature,shop,Second feature,2026-09-01T09:00:00Z,2026-09-15T09:00:00Z
W-6,feature,shop,Third feature,2026-09-02T09:00:00Z,2026-09-04T09:00:00Z
"""

# shop deploys every week in September (4-5 per month); app once in August, never in September.
DEPLOYMENTS = """\
id,value_stream,environment,result,finished_at
d-1,shop,production,success,2026-07-09T18:00:00Z
d-2,shop,production,failure,2026-08-01T18:00:00Z
d-3,app,production,success,2026-08-21T18:00:00Z
d-4,shop,production,success,2026-09-01T18:00:00Z
d-5,shop,production,success,2026-09-08T18:00:00Z
d-6,shop,production,success,2026-09-15T18:00:00Z
d-7,shop,production,success,2026-09-22T18:00:00Z
d-8,shop,staging,success,2026-09-23T18:00:00Z
"""

PAGE = """\
# About

The first version of the about page.
"""


def small_project(root: Path, extra_config: str = "") -> Path:
    """Write the small project into root; `extra_config` is appended to flowsite.yml."""
    return write_project(root, CONFIG + extra_config, {
        "data/work_items.csv": WORK_ITEMS,
        "data/deployments.csv": DEPLOYMENTS,
        "pages/about.md": PAGE,
    })
