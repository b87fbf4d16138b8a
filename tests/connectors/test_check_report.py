"""`flowsite check` on preset sources: rows read and dropped with reasons, date range, value streams, mapping."""
from __future__ import annotations

from ..conftest import run_cli


def test_check_reports_what_the_mapping_did(project):
    project.write({
        "work_items": {"path": "data/jira/jira-*.csv", "format": "jira-csv"},
        "status_changes": {"path": "data/jira/search.json", "format": "jira-json", "options": {"statuses": "data/jira/status.json"}},
        "deployments": {"path": "data/github/checkout/**/*.json*", "format": "github"},
    }, statuses={"waiting": ["Code Review"]}, value_streams=[{"id": "checkout", "match": {"projects": ["CHK", "SHOP"], "repos": ["checkout-web"]}}, {"id": "search", "match": {"projects": ["SRCH"]}}])
    result = run_cli("check", project.root)
    assert result.exit_code == 0, result.output
    out = result.output
    lines = [line.strip() for line in out.splitlines()]
    # work_items: 9 rows over five localised files; LIPU and EKO match no value stream.
    assert "work_items               9 rows read,        6 used, 3 dropped, 2026-02-03 to 2026-03-02" in out
    assert "from: data/jira/jira-*.csv" in lines
    assert "dropped 3: value stream not in flowsite.yml ('EKO', 'LIPU')" in lines
    assert "value streams: checkout, search" in lines
    assert "type: debt 2, defect 2, feature 2" in lines
    assert "unmapped value_stream: EKO, LIPU" in lines
    assert "(assign them with value_streams[].match: projects, labels, repos or services)" in lines
    # status_changes: Code Review is configured as waiting; the other statuses came through their ids.
    assert "category: active 2, done 2, waiting 2, new 1" in lines
    # deployments: one never finished; environments and results as mapped.
    assert "deployments              5 rows read,        4 used, 1 dropped, 2026-03-02 to 2026-03-08" in out
    assert "dropped 1: missing finished_at" in lines
    assert "environment: production 3, staging 1" in lines
    assert "result: success 3, failure 1" in lines


def test_check_names_unknown_tracker_types(project):
    (project.root / "data/jira/extra.csv").write_text("Issue key,Issue Type,Project key,Created\nCHK-99,Spike,CHK,01/Mar/26 9:00 AM\n", encoding="utf-8")
    project.write({"work_items": {"path": "data/jira/extra.csv", "format": "jira-csv"}})
    result = run_cli("check", project.root)
    assert result.exit_code == 1
    assert "row 2: column 'type': expected a flow item type (feature, defect, risk, debt), got 'Spike'" in result.output
    assert "types: {feature: ['Spike']}" in result.output
