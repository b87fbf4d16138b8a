"""Jira presets: localised CSV exports and REST issues with changelogs, checked field by field."""
from __future__ import annotations

import pytest

from flowsite.errors import SourceError
from flowsite.sources.presets._jira_locale import parse_date

from ._support import rows, utc


@pytest.mark.parametrize("text, expected", [
    ("15/Feb/26 4:37 PM", "2026-02-15T16:37:00"),
    ("15/Feb/26 12:05 AM", "2026-02-15T00:05:00"),
    ("10/nov/25 4:51 p. m.", "2025-11-10T16:51:00"),
    ("02/dic/25 9:10 a. m.", "2025-12-02T09:10:00"),
    ("29/июл/26 09:59", "2026-07-29T09:59:00"),
    ("02/Mär/26 14:05", "2026-03-02T14:05:00"),
    ("27/févr./26 17:20", "2026-02-27T17:20:00"),
    ("01/juin/26 08:00", "2026-06-01T08:00:00"),
    ("01/juil./26 08:00", "2026-07-01T08:00:00"),
    ("22/Oct/21 16:55", "2021-10-22T16:55:00"),
    ("2026-03-01T10:00:00+01:00", "2026-03-01T10:00:00+01:00"),  # ISO passes through
    ("31/Feb/26 4:37 PM", "31/Feb/26 4:37 PM"),  # impossible date stays text: normalize reports the row
])
def test_jira_dates_in_every_supported_language(text, expected):
    assert parse_date(text) == expected


def test_jira_csv_english_export(project):
    frame, report = project.load("work_items", {"path": "data/jira/jira-en.csv", "format": "jira-csv", "timezone": "America/New_York"})
    items = rows(frame)
    assert sorted(items) == ["CHK-12", "CHK-13", "CHK-14", "SRCH-7"]
    story = items["CHK-12"]
    assert story["type"] == "feature" and story["value_stream"] == "checkout" and story["title"] == "Pay with saved card"
    assert story["created_at"] == utc(2026, 2, 3, 14, 5)  # 9:05 AM New York
    assert story["completed_at"] == utc(2026, 2, 12, 21, 37)
    assert story["points"] == 5.0 and story["started_at"] is None and story["canceled_at"] is None
    bug = items["CHK-13"]  # in progress: started when its status category changed
    assert bug["type"] == "defect" and bug["started_at"] == utc(2026, 2, 14, 16, 15) and bug["completed_at"] is None
    assert bug["points"] == 2.0  # from "Story point estimate" (team-managed projects)
    wont = items["CHK-14"]  # resolution Won't Do: canceled, not completed
    assert wont["type"] == "debt" and wont["canceled_at"] == utc(2026, 2, 13, 20, 0) and wont["completed_at"] is None
    assert items["SRCH-7"]["value_stream"] == "search"
    assert report.rows_read == 4 and report.rows_used == 4


def test_jira_csv_labels_pick_the_value_stream(project):
    # CHK-12's repeated Labels columns hold "payments" and "web"; a label rule wins over the project rule.
    streams = [{"id": "payments", "match": {"labels": ["payments"]}}, {"id": "checkout", "match": {"projects": ["CHK"]}}, {"id": "search", "match": {"projects": ["SRCH"]}}]
    frame, _ = project.load("work_items", {"path": "data/jira/jira-en.csv", "format": "jira-csv"}, value_streams=streams)
    assert rows(frame)["CHK-12"]["value_stream"] == "payments"
    assert rows(frame)["CHK-13"]["value_stream"] == "checkout"


def test_jira_csv_spanish_export_with_crlf(project):
    frame, _ = project.load("work_items", {"path": "data/jira/jira-es.csv", "format": "jira-csv", "timezone": "America/Santiago"})
    items = rows(frame)
    sub = items["LIPU-144"]
    assert sub["type"] == "debt" and sub["value_stream"] == "checkout"  # Subtarea -> Sub-task
    assert sub["created_at"] == utc(2025, 11, 10, 19, 51) and sub["completed_at"] is None
    bug = items["LIPU-150"]  # Error -> Bug; "p. m." times; done by category Hecho
    assert bug["type"] == "defect" and bug["points"] == 3.0
    assert bug["created_at"] == utc(2025, 12, 2, 12, 10) and bug["completed_at"] == utc(2025, 12, 5, 21, 45)


@pytest.mark.parametrize("name, key, itype, created, completed", [
    ("jira-de.csv", "SHOP-3", "debt", utc(2026, 3, 2, 13, 5), utc(2026, 3, 4, 8, 30)),
    ("jira-fr.csv", "SHOP-4", "defect", utc(2026, 2, 27, 16, 20), utc(2026, 3, 2, 7, 0)),
])
def test_jira_csv_german_and_french_exports(project, name, key, itype, created, completed):
    frame, _ = project.load("work_items", {"path": f"data/jira/{name}", "format": "jira-csv"})
    item = rows(frame)[key]
    assert (item["type"], item["value_stream"], item["created_at"], item["completed_at"]) == (itype, "checkout", created, completed)


def test_jira_csv_russian_server_export_reports_unmapped_project(project):
    project.write({"work_items": {"path": "data/jira/jira-ru.csv", "format": "jira-csv", "timezone": "Europe/Moscow"}})
    from flowsite.config import load_config
    from flowsite.sources import load_sources

    loaded = load_sources(load_config(project.root))
    report = loaded.reports["work_items"]
    # EKO belongs to no value stream: the row is dropped and the project named, not silently lost.
    assert report.rows_read == 1 and report.rows_used == 0
    assert report.unmapped["value_stream"] == ["EKO"]
    frame, _ = project.load("work_items", {"path": "data/jira/jira-ru.csv", "format": "jira-csv", "timezone": "Europe/Moscow", "value_stream": "search"})
    item = rows(frame)["EKO-21"]
    assert item["type"] == "feature"  # История -> Story
    assert item["created_at"] == utc(2026, 7, 29, 6, 59) and item["completed_at"] == utc(2026, 8, 3, 15, 0)


def test_jira_csv_has_no_status_history(project):
    project.write({"status_changes": {"path": "data/jira/jira-en.csv", "format": "jira-csv"}})
    from flowsite.config import load_config
    from flowsite.sources import load_sources

    with pytest.raises(SourceError) as err:
        load_sources(load_config(project.root))
    assert "no status history" in err.value.format() and "jira-json" in err.value.format()


JSON = {"path": "data/jira/search.json", "format": "jira-json", "options": {"statuses": "data/jira/status.json", "changelogs": "data/jira/changelogs/*.json", "points": "customfield_10016"}}


def test_jira_json_work_items(project):
    frame, _ = project.load("work_items", JSON)
    items = rows(frame)
    story = items["CHK-30"]  # 故事 = Story; started at the first move into an in-progress status
    assert story["type"] == "feature" and story["value_stream"] == "checkout" and story["title"] == "One-click reorder"
    assert story["created_at"] == utc(2026, 3, 2, 8, 0) and story["started_at"] == utc(2026, 3, 3, 9, 0)
    assert story["completed_at"] == utc(2026, 3, 9, 15, 30) and story["points"] == 3.0
    bug = items["CHK-31"]  # the embedded changelog is truncated; the page file holds the first move
    assert bug["type"] == "defect" and bug["started_at"] == utc(2026, 3, 5, 9, 30) and bug["completed_at"] is None
    assert items["OPS-2"]["type"] == "defect"


def test_jira_json_status_changes_use_status_ids(project):
    frame, report = project.load("status_changes", JSON)
    got = [(r["item_id"], r["status"], r["category"], r["changed_at"]) for r in frame.sort("item_id", "changed_at").iter_rows(named=True)]
    assert got == [
        ("CHK-30", "Backlog", "new", utc(2026, 3, 2, 8, 0)),
        ("CHK-30", "active", "active", utc(2026, 3, 3, 9, 0)),  # 开发中: id 3 is "indeterminate" in the status list
        ("CHK-30", "active", "active", utc(2026, 3, 5, 10, 0)),  # Code Review
        ("CHK-30", "done", "done", utc(2026, 3, 9, 15, 30)),  # 已完成: id 10068 is "done"
        ("CHK-31", "Backlog", "new", utc(2026, 3, 4, 8, 0)),
        ("CHK-31", "active", "active", utc(2026, 3, 5, 9, 30)),
        ("CHK-31", "active", "active", utc(2026, 3, 6, 8, 0)),  # in both the page and the embedded list: once
        ("OPS-2", "done", "done", utc(2026, 3, 7, 12, 0)),  # no changelog: its status at creation
    ]
    assert report.unmapped == {}


def test_jira_json_config_status_names_win(project):
    frame, _ = project.load("status_changes", JSON, statuses={"waiting": ["Code Review"]})
    review = frame.filter(frame["changed_at"] == utc(2026, 3, 5, 10, 0)).row(0, named=True)
    assert (review["status"], review["category"]) == ("Code Review", "waiting")


def test_jira_json_incidents(project):
    frame, _ = project.load("incidents", JSON)
    assert frame.to_dicts() == [{"id": "OPS-2", "value_stream": "checkout", "created_at": utc(2026, 3, 7, 12, 0), "resolved_at": utc(2026, 3, 7, 13, 30), "severity": "Highest"}]


def test_jira_json_rejects_other_datasets(project):
    project.write({"deployments": JSON})
    from flowsite.config import load_config
    from flowsite.sources import load_sources

    with pytest.raises(SourceError) as err:
        load_sources(load_config(project.root))
    assert "cannot provide 'deployments'" in err.value.format()


def test_jira_csv_time_in_status_dates_the_start_of_done_items(project):
    source = {"path": "data/jira/jira-en.csv", "format": "jira-csv", "timezone": "UTC", "options": {"statuses": "data/jira/status.json"}}
    frame, _ = project.load("work_items", source)
    items = rows(frame)
    # CHK-12 spent 42 h in status 3 (entered twice) and 6 h in 10067, both "indeterminate": 48 h before it was resolved.
    assert items["CHK-12"]["started_at"] == utc(2026, 2, 10, 16, 37)
    assert items["CHK-13"]["started_at"] == utc(2026, 2, 14, 11, 15)  # still in progress: when its category changed
    assert items["CHK-14"]["started_at"] is None  # no time-in-status value


def test_jira_json_service_management_fields(project):
    source = {**JSON, "options": {**JSON["options"], "severity": "customfield_10050", "services": "customfield_10044"}}
    frame, _ = project.load("incidents", source, value_streams=[{"id": "payments", "match": {"services": ["Checkout API"]}}])
    assert frame.select("id", "value_stream", "severity").to_dicts() == [{"id": "OPS-2", "value_stream": "payments", "severity": "Sev 1"}]


MONTH_NAMES = {
    "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    "es": "ene feb mar abr may jun jul ago sept oct nov dic",
    "de": "Jan Feb Mär Apr Mai Jun Jul Aug Sep Okt Nov Dez",
    "fr": "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.",
    "ru": "янв фев мар апр май июн июл авг сен окт ноя дек",
}


def test_jira_dates_round_trip_in_every_language():
    import datetime as dt

    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)), st.sampled_from(sorted(MONTH_NAMES)), st.booleans())
    def check(when, lang, twelve_hour):
        when = when.replace(second=0, microsecond=0)
        month = MONTH_NAMES[lang].split()[when.month - 1]
        clock = f"{(when.hour % 12) or 12}:{when.minute:02d} {'PM' if when.hour >= 12 else 'AM'}" if twelve_hour else f"{when.hour:02d}:{when.minute:02d}"
        assert parse_date(f"{when.day:02d}/{month}/{when.year % 100:02d} {clock}") == when.isoformat()

    check()
