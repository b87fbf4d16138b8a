"""PagerDuty (REST, Analytics, UI CSV) and Opsgenie incidents."""
from __future__ import annotations

from ._support import rows, utc


def test_pagerduty_rest_incidents(project):
    frame, _ = project.load("incidents", {"path": "data/pagerduty/incidents.json", "format": "pagerduty"})
    inc = rows(frame)
    assert inc["Q1AAA"] == {"id": "Q1AAA", "value_stream": "checkout", "created_at": utc(2026, 3, 2, 11, 0), "resolved_at": utc(2026, 3, 2, 12, 30), "severity": "P1"}
    # No resolved_at (older accounts): the resolve log entry; microsecond timestamps.
    assert inc["Q2BBB"] == {"id": "Q2BBB", "value_stream": "search", "created_at": utc(2026, 3, 3, 6, 23, 6), "resolved_at": utc(2026, 3, 3, 7, 2, 36), "severity": "low"}
    assert inc["Q3CCC"]["resolved_at"] is None and inc["Q3CCC"]["severity"] == "high"


def test_pagerduty_analytics_times_are_in_the_requested_zone(project):
    frame, _ = project.load("incidents", {"path": "data/pagerduty/analytics.json", "format": "pagerduty", "timezone": "Europe/Berlin"})
    assert frame.to_dicts() == [{"id": "Q4DDD", "value_stream": "checkout", "created_at": utc(2026, 3, 7, 9, 5), "resolved_at": utc(2026, 3, 7, 9, 50), "severity": "high"}]


def test_pagerduty_ui_csv(project):
    frame, _ = project.load("incidents", {"path": "data/pagerduty/incidents-ui.csv", "format": "pagerduty", "timezone": "UTC"})
    assert frame.to_dicts() == [{"id": "Q5EEE", "value_stream": "search", "created_at": utc(2026, 3, 8, 8, 0), "resolved_at": utc(2026, 3, 8, 9, 15), "severity": "P3"}]


def test_opsgenie_incidents(project):
    frame, _ = project.load("incidents", {"path": "data/opsgenie/incidents.json", "format": "opsgenie"})
    inc = rows(frame)
    # Fractional seconds of two and three digits; the impact window is the outage.
    assert inc["3f84e009-7548-4e7d-832a-fa82c1e7c8f1"] == {"id": "3f84e009-7548-4e7d-832a-fa82c1e7c8f1", "value_stream": "checkout", "created_at": utc(2026, 3, 5, 18, 20, 28, 3000), "resolved_at": utc(2026, 3, 5, 18, 21, 21, 490000), "severity": "P2"}
    # Closed without an impact end: resolved when last updated; the owner team picks the value stream.
    closed = inc["3a74524a-f492-4172-b3f5-6041c7cb404a"]
    assert (closed["value_stream"], closed["resolved_at"], closed["severity"]) == ("search", utc(2026, 3, 6, 15, 0, 57, 35000), "P3")
    assert inc["7b1e2c1d-0000-4000-8000-000000000001"]["resolved_at"] is None
