"""Every figure flowsite computes: id, name, unit, direction and the definition shown on its page."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricDef:
    id: str
    name: str
    group: str  # outcomes | flow | delivery | culture | vsm
    unit: str
    direction: str | None  # higher | lower | None (no better side)
    statistic: str
    definition: str
    datasets: tuple[str, ...]
    decimals: int = 1
    tiered: bool = False
    headline: bool = True
    parent: str | None = None  # secondary figures (percentiles, shares) belong to a parent page


GROUPS = (
    ("outcomes", "Business outcomes"),
    ("flow", "Flow"),
    ("delivery", "Delivery (DORA)"),
    ("culture", "Culture"),
    ("vsm", "Value stream map"),
)

_DEFS = [
    MetricDef("flow_velocity", "Flow velocity", "flow", "items", "higher", "count per period",
              "Number of flow items (features, defects, risks, debts) that reached a done status in the period. Canceled items are excluded. Counts items, not story points.",
              ("work_items", "status_changes"), decimals=0),
    MetricDef("flow_time", "Flow time (median)", "flow", "days", "lower", "median (p50)",
              "Elapsed days from when an item was accepted into the value stream (its first waiting or active status, leaving new) to done, for items completed in the period. Includes active and waiting time. Items never started fall back to their created time.",
              ("work_items", "status_changes")),
    MetricDef("flow_time_p85", "Flow time (85th percentile)", "flow", "days", "lower", "85th percentile (linear interpolation)",
              "85% of items completed in the period took at most this many days.", ("work_items", "status_changes"), headline=False, parent="flow_time"),
    MetricDef("flow_time_p95", "Flow time (95th percentile)", "flow", "days", "lower", "95th percentile (linear interpolation)",
              "95% of items completed in the period took at most this many days.", ("work_items", "status_changes"), headline=False, parent="flow_time"),
    MetricDef("flow_efficiency", "Flow efficiency", "flow", "%", "higher", "sum of active time / sum of flow time",
              "Share of the flow time of items completed in the period that was spent in an active status (the rest is waiting). Needs status_changes.",
              ("work_items", "status_changes")),
    MetricDef("flow_load", "Flow load (WIP)", "flow", "items", "lower", "mean of daily WIP",
              "Number of items in progress (started, not yet done or canceled), sampled at the end of every day and averaged over the period.",
              ("work_items", "status_changes")),
    MetricDef("flow_distribution", "Flow distribution", "flow", "%", None, "share of completed items by type",
              "Share of the items completed in the period by flow item type (feature, defect, risk, debt), compared with the investment mix each value stream declares.",
              ("work_items",), decimals=0, headline=False),
    MetricDef("flow_distribution_feature", "Flow distribution: features", "flow", "%", None, "share of completed items",
              "Share of the items completed in the period that are features.", ("work_items",), decimals=0, headline=False, parent="flow_distribution"),
    MetricDef("flow_distribution_defect", "Flow distribution: defects", "flow", "%", None, "share of completed items",
              "Share of the items completed in the period that are defects.", ("work_items",), decimals=0, headline=False, parent="flow_distribution"),
    MetricDef("flow_distribution_risk", "Flow distribution: risks", "flow", "%", None, "share of completed items",
              "Share of the items completed in the period that are risks.", ("work_items",), decimals=0, headline=False, parent="flow_distribution"),
    MetricDef("flow_distribution_debt", "Flow distribution: debts", "flow", "%", None, "share of completed items",
              "Share of the items completed in the period that are debts.", ("work_items",), decimals=0, headline=False, parent="flow_distribution"),
    MetricDef("deployment_frequency", "Deployment frequency", "delivery", "per week", "higher", "successful production deployments / weeks in period",
              "Successful production deployments per week. A period before the value stream's first deployment shows no data; after it, a week without deployments counts as zero.",
              ("deployments",), decimals=2, tiered=True),
    MetricDef("lead_time", "Lead time for changes", "delivery", "hours", "lower", "median",
              "Hours from a change's first commit to the successful production deployment that shipped it, for changes deployed in the period. Changes whose first commit is older than the value stream's first observed deployment are excluded.",
              ("changes", "deployments"), tiered=True),
    MetricDef("change_failure_rate", "Change failure rate", "delivery", "%", "lower", "failed deployments / deployments",
              "Share of successful production deployments in the period that caused at least one incident: an incident names its deployment (caused_by_deployment) or is attributed to the latest production deployment of its value stream within the incident window before it was opened.",
              ("deployments", "incidents"), tiered=True),
    MetricDef("recovery_time", "Failed deployment recovery time", "delivery", "hours", "lower", "median",
              "Hours from opening to resolving incidents caused by a deployment, for incidents resolved in the period. Unresolved incidents are excluded and counted.",
              ("incidents", "deployments"), tiered=True),
    MetricDef("rework_rate", "Deployment rework rate", "delivery", "%", "lower", "rework deployments / deployments",
              "Share of successful production deployments in the period that were unplanned and made to fix a user-facing problem (is_rework). No tiers: the DORA reports publish none.",
              ("deployments",)),
    MetricDef("westrum", "Westrum culture score", "culture", "of 7", "higher", "mean of per-response means",
              "Mean of the six Westrum statements (1 = strongly disagree, 7 = strongly agree) per response, averaged over the responses submitted in the period. Bands (pathological < 3.5, bureaucratic < 5.5, generative from 5.5) are flowsite's own convention; DORA publishes none.",
              ("survey_responses",), decimals=2),
    MetricDef("vsm_lead_time", "VSM total lead time", "vsm", "hours", "lower", "sum over steps",
              "Sum of every step's lead time (process plus wait) along the value stream map.", ("value_stream_maps",)),
    MetricDef("vsm_process_time", "VSM total process time", "vsm", "hours", "lower", "sum over steps",
              "Sum of every step's process (touch) time.", ("value_stream_maps",)),
    MetricDef("vsm_activity_ratio", "VSM activity ratio", "vsm", "%", "higher", "total process time / total lead time",
              "Share of the total lead time spent working (Martin & Osterling's %Activity).", ("value_stream_maps",)),
    MetricDef("vsm_rolled_pca", "VSM rolled %C&A", "vsm", "%", "higher", "product of steps' %C&A",
              "Share of work passing the whole stream without rework: the product of every step's percent complete and accurate.", ("value_stream_maps",)),
]

CATALOGUE: dict[str, MetricDef] = {m.id: m for m in _DEFS}


def metric_def(metric_id: str, kpi_name: str | None = None, kpi_unit: str = "", kpi_direction: str = "higher", description: str = "") -> MetricDef:
    """Definition of a built-in metric, or a generated one for a business KPI (`kpi.<id>`)."""
    if metric_id in CATALOGUE:
        return CATALOGUE[metric_id]
    if metric_id.startswith("kpi."):
        kid = metric_id[4:]
        return MetricDef(metric_id, kpi_name or kid, "outcomes", kpi_unit, kpi_direction, "latest value in the period",
                         description or f"Business KPI '{kid}' as reported in the kpis dataset; the figure of a period is its latest observation.", ("kpis",), decimals=2)
    return MetricDef(metric_id, metric_id, "flow", "", None, "", "", ())
