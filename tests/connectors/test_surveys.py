"""Google Forms and Microsoft Forms Westrum surveys: statements matched by text, answers by label or number."""
from __future__ import annotations

import pytest

from flowsite.config import load_config
from flowsite.errors import SourceError
from flowsite.sources import load_sources
from flowsite.sources.presets.surveys import parse_stamp

from ._support import utc

ITEMS = [f"westrum_{i}" for i in range(1, 7)]


def answers(frame):
    return {r["submitted_at"]: (r["value_stream"], [r[i] for i in ITEMS], r["respondent"]) for r in frame.iter_rows(named=True)}


def test_google_forms_grid_with_labels(project):
    frame, _ = project.load("survey_responses", {"path": "data/surveys/google-forms.csv", "format": "google-forms"})
    assert answers(frame) == {
        # "GMT+3" is honoured; labels map to 1..7 and a bare number is kept.
        utc(2026, 3, 27, 12, 0): ("checkout", [7.0, 6.0, 5.0, 4.0, 6.0, 6.0], "ana@example.com"),
        utc(2026, 3, 28, 6, 15): ("search", [2.0, 3.0, 6.0, 6.0, 1.0, 5.0], "ben@example.com"),
    }
    assert frame.get_column("team").to_list() == ["Checkout", "Search"]


def test_google_sheet_download_is_day_first_when_a_day_says_so(project):
    frame, _ = project.load("survey_responses", {"path": "data/surveys/google-sheet.csv", "format": "google-forms", "timezone": "Europe/London"})
    assert answers(frame) == {
        utc(2026, 3, 5, 9, 15): ("checkout", [7.0, 6.0, 5.0, 4.0, 3.0, 2.0], None),  # 5/3/2026 = 5 March, since 27/3 exists
        utc(2026, 3, 27, 14, 28, 27): ("checkout", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], None),
    }


def test_microsoft_forms(project):
    frame, _ = project.load("survey_responses", {"path": "data/surveys/microsoft-forms.csv", "format": "microsoft-forms", "timezone": "UTC"})
    assert answers(frame) == {
        utc(2026, 3, 27, 19, 6, 23): ("checkout", [5.0, 6.0, 7.0, 6.0, 4.0, 6.0], None),  # "anonymous" is no respondent
        utc(2026, 3, 30, 8, 45, 59): ("search", [6.0, 6.0, 6.0, 3.0, 6.0, 7.0], "carla@example.com"),
    }


def test_a_statement_that_does_not_match_is_named(project, tmp_path):
    (project.root / "data/surveys/other.csv").write_text("Timestamp,Team,Q1,Q2,Q3,Q4,Q5,Q6\n2026/03/27 3:00:00 PM GMT+3,checkout,1,2,3,4,5,6\n", encoding="utf-8")
    project.write({"survey_responses": {"path": "data/surveys/other.csv", "format": "google-forms"}})
    with pytest.raises(SourceError) as err:
        load_sources(load_config(project.root))
    assert "Information is actively sought." in err.value.format() and "options" in err.value.format()
    options = {f"westrum_{i}": f"Q{i}" for i in range(1, 7)}
    frame, _ = project.load("survey_responses", {"path": "data/surveys/other.csv", "format": "google-forms", "options": options})
    assert [frame.row(0, named=True)[i] for i in ITEMS] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


@pytest.mark.parametrize("text, day_first, expected", [
    ("2026/09/27 3:00:00 PM GMT+3", False, "2026-09-27T15:00:00+03:00"),
    ("2026/09/27 12:30:00 AM GMT-04:30", False, "2026-09-27T00:30:00-04:30"),
    ("5/10/2026 09:15:00", False, "2026-05-10T09:15:00"),
    ("5/10/2026 09:15:00", True, "2026-10-05T09:15:00"),
    ("7/27/26 19:06:23", False, "2026-07-27T19:06:23"),
])
def test_survey_timestamps(text, day_first, expected):
    assert parse_stamp(text, day_first) == expected


def test_microsoft_quiz_columns_do_not_steal_a_statement(project):
    # A quiz-mode form adds "Points - <question>" and "Feedback - <question>" columns before the questions.
    frame, _ = project.load("survey_responses", {"path": "data/surveys/microsoft-forms-quiz.csv", "format": "microsoft-forms", "timezone": "UTC"})
    assert answers(frame) == {utc(2026, 4, 2, 10, 4, 10): ("checkout", [6.0, 5.0, 6.0, 7.0, 2.0, 4.0], "dana@example.com")}
