"""The canonical datasets (DESIGN §3): column names, types and which are required."""
from __future__ import annotations

from dataclasses import dataclass

WESTRUM_ITEMS = (
    ("westrum_1", "Information is actively sought."),
    ("westrum_2", "Messengers are not punished when they deliver news of failures or other bad news."),
    ("westrum_3", "Responsibilities are shared."),
    ("westrum_4", "Cross-functional collaboration is encouraged and rewarded."),
    ("westrum_5", "Failures are treated primarily as opportunities to improve the system."),
    ("westrum_6", "New ideas are welcomed."),
)


@dataclass(frozen=True)
class Dataset:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    description: str

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


def column_kind(column: str) -> str:
    """How a canonical column is typed: 'datetime', 'float', 'bool' or 'str'."""
    if column.endswith("_at") or column == "date":
        return "datetime"
    if column in ("points", "value") or column.startswith("westrum_"):
        return "float"
    if column == "is_rework":
        return "bool"
    return "str"


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("work_items", ("id", "type", "value_stream", "created_at"), ("title", "started_at", "completed_at", "canceled_at", "points"), "Tracker items (features, defects, risks, debts)."),
        Dataset("status_changes", ("item_id", "status", "changed_at"), (), "Every status transition of a work item."),
        Dataset("deployments", ("id", "value_stream", "finished_at"), ("environment", "result", "commit_sha", "started_at", "is_rework"), "Deployments, any environment and result."),
        Dataset("changes", ("id", "value_stream", "first_commit_at"), ("opened_at", "merged_at", "deployed_at", "deployment_id", "commit_sha"), "Changes (pull/merge requests or commits) and where they shipped."),
        Dataset("incidents", ("id", "value_stream", "created_at"), ("resolved_at", "caused_by_deployment", "severity"), "Production incidents."),
        Dataset("survey_responses", ("value_stream", "submitted_at") + tuple(i for i, _ in WESTRUM_ITEMS), ("respondent", "team"), "Westrum culture survey answers on the 1-7 scale."),
        Dataset("kpis", ("value_stream", "kpi", "date", "value"), (), "Business KPI observations."),
    )
}

ID_COLUMNS = {"work_items": "id", "deployments": "id", "changes": "id", "incidents": "id"}
