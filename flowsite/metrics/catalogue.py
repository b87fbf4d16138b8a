"""Every figure flowsite computes: id, name, unit, direction and the definition shown on its page."""
from __future__ import annotations

from dataclasses import dataclass

from ..hooks import hookimpl


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
              "Number of items in progress, sampled at the end of every day and averaged over the period. With status history an item is in progress while its status is a waiting or active one, so an item reopened after done counts again only while reopened; without it, from its start until done or canceled.",
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
    MetricDef("deployment_days_per_week", "Deployment days per week", "delivery", "days", "higher", "median over calendar weeks",
              "Days with at least one successful production deployment, counted per calendar week (weeks without a deployment count as 0) and summarised by the profile's median. DevLake and Four Keys tier deployment frequency on this figure.",
              ("deployments",), headline=False, parent="deployment_frequency"),
    MetricDef("deployment_days_per_month", "Deployment days per month", "delivery", "days", "higher", "median over calendar months",
              "Days with at least one successful production deployment, counted per calendar month and summarised by the profile's median.",
              ("deployments",), headline=False, parent="deployment_frequency"),
    MetricDef("deployment_days_per_six_months", "Deployment days per six months", "delivery", "days", "higher", "upper median over half-years",
              "Deployment days per calendar half-year (DevLake's 2021 medium bucket; devlake profile only).",
              ("deployments",), headline=False, parent="deployment_frequency"),
    MetricDef("deployment_weeks_median", "Weeks with a deployment (median)", "delivery", "", "higher", "median of 0/1 per week",
              "Median over the Sunday-start weeks of the last three months of 1 if the week had a deployment, else 0 (Four Keys' weekly bucket; fourkeys profile only).",
              ("deployments",), decimals=1, headline=False, parent="deployment_frequency"),
    MetricDef("deployed_weeks_per_month", "Deployed weeks per month (median)", "delivery", "weeks", "higher", "median over weeks",
              "Median over the weeks of the last three months of the number of weeks with a deployment in that week's month (Four Keys' monthly bucket; fourkeys profile only).",
              ("deployments",), decimals=1, headline=False, parent="deployment_frequency"),
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

# How each peer profile changes a metric's rules: shown on the metric page next to the definition
# (docs/metrics/profiles.md has the sources).
PROFILE_RULES: dict[str, dict[str, str]] = {
    "flowsite": {
        "deployment_frequency": "Successful deployments to a production environment (no environment: production). Days and weeks in the project time zone, weeks from Monday.",
        "lead_time": "First commit to the finish of the production deployment that shipped the change, in hours; interpolated median. Changes whose first commit is older than the value stream's first observed deployment are left out (apache/devlake#8188).",
        "change_failure_rate": "An incident names its deployment (caused_by_deployment) or is attributed to the latest production deployment at most incident_window_hours before it (apache/devlake#8150). Each deployment counts once.",
        "recovery_time": "Incident opened to resolved, for incidents caused by a deployment; interpolated median.",
    },
    "devlake": {
        "deployment_frequency": "Apache DevLake: a deployment is a successful deployment to a production environment (an empty environment is not production). Tiers use the lower median of deployment days per Monday-start week and per calendar month (UTC days, every day of the range, at most 400 days back).",
        "lead_time": "Apache DevLake: PR cycle time = coding (first commit to PR opened) + PR opened to merged + deploy (merged to the deployment that shipped the merge commit), each part in whole minutes rounded up, a negative part counted as 0. Lower median over changes deployed in the window.",
        "change_failure_rate": "Apache DevLake: each incident is attributed to the latest production deployment of its value stream finished strictly before it was opened, with no time limit; caused_by_deployment is not used. A deployment with any incident failed; no data when the value stream has no incident at all.",
        "recovery_time": "Apache DevLake (2023 setting): from the attributed deployment's finish to the incident's resolution, in whole minutes (truncated), for deployments finished and incidents resolved in the window, grouped by the deployment's period. Lower median. With benchmark devlake-2021 (time to restore service): incident created to resolved for every resolved incident, truncated minutes, lower median.",
    },
    "fourkeys": {
        "deployment_frequency": "Four Keys: every successful deployment event counts, in any environment. The window figure and the tier cover the last three months (not before the first deployment), with UTC days and weeks starting on Sunday; per-period figures use all data.",
        "lead_time": "Four Keys: for every (deployment, change) pair, whole minutes (truncated) from the change's first commit to the deployment; pairs of 0 minutes or less are dropped. Interpolated median; the window figure covers deployments of the last three months.",
        "change_failure_rate": "Four Keys: incidents matched to the deployment holding their root cause (caused_by_deployment) divided by the distinct deployments that shipped a change, last three months. Counts matches, so it is not capped at 100%.",
        "recovery_time": "Four Keys: whole hours (truncated) from the incident's start (the earlier of its creation and its root-cause deployment) to its resolution, for all resolved incidents; interpolated median; the window figure covers incidents of the last three months.",
    },
}


def profile_rules(profile: str) -> dict[str, str]:
    """Metric id -> the rule a definition profile applies (empty for metrics no profile changes)."""
    return dict(PROFILE_RULES.get(profile, {}))


BUILTIN_IDS = frozenset(CATALOGUE)


@hookimpl
def register_metrics():
    """The built-in definitions, registered through the same hook as plugins' metrics."""
    return list(_DEFS)


def use_metrics(defs: list[MetricDef]) -> None:
    """Make CATALOGUE hold exactly `defs` (built-ins plus this build's plugin and custom metrics).

    Updated in place: scorecards, pages and docs read the one shared dict.
    """
    CATALOGUE.clear()
    CATALOGUE.update({m.id: m for m in defs})


def metric_def(metric_id: str, kpi_name: str | None = None, kpi_unit: str = "", kpi_direction: str = "higher", description: str = "") -> MetricDef:
    """Definition of a built-in metric, or a generated one for a business KPI (`kpi.<id>`)."""
    if metric_id in CATALOGUE:
        return CATALOGUE[metric_id]
    if metric_id.startswith("kpi."):
        kid = metric_id[4:]
        return MetricDef(metric_id, kpi_name or kid, "outcomes", kpi_unit, kpi_direction, "latest value in the period",
                         description or f"Business KPI '{kid}' as reported in the kpis dataset; the figure of a period is its latest observation.", ("kpis",), decimals=2)
    return MetricDef(metric_id, metric_id, "flow", "", None, "", "", ())
