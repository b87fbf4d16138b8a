"""Linear CSV export: started/completed/canceled timeline, labels as types, formula guard removed."""
from __future__ import annotations

from ._support import rows, utc


def test_linear_csv(project):
    # Teams "Checkout" and "Search" are the value streams' ids; no match rules needed.
    frame, _ = project.load("work_items", {"path": "data/linear/linear.csv", "format": "linear-csv"}, value_streams=[{"id": "checkout"}, {"id": "search"}])
    items = rows(frame)
    assert items["CHK-101"] == {
        "id": "CHK-101", "type": "defect", "value_stream": "checkout", "created_at": utc(2026, 3, 2, 9, 0),
        "title": "=SUM(A1) shows in the basket", "started_at": utc(2026, 3, 3, 10, 0), "completed_at": utc(2026, 3, 5, 10, 0), "canceled_at": None, "points": 3.0,
    }
    assert (items["CHK-102"]["type"], items["CHK-102"]["completed_at"], items["CHK-102"]["points"]) == ("feature", None, 5.0)
    canceled = items["SRCH-9"]
    assert (canceled["type"], canceled["value_stream"], canceled["canceled_at"], canceled["points"]) == ("feature", "search", utc(2026, 3, 4, 10, 0), None)
