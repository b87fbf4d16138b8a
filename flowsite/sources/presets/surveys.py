"""Westrum survey exports: Google Forms (`google-forms`) and Microsoft Forms (`microsoft-forms`) as CSV.

Both export one row per response and one column per question, headed by the question text. The
six Westrum statements are found by their text (a grid gives `Title [Statement]`; the statement in
brackets is used), so small rewordings still match; `options.westrum_1` … `westrum_6` name the
header of a statement that does not (e.g. a translated form). Answers are numbers 1–7 or the labels
of the 7-point agreement scale (`Strongly disagree` … `Strongly agree`, optionally `5 - Somewhat agree`).

The value stream comes from the answer to the team question (a header containing "team" or "value
stream", or `options.team_question`), matched to a value stream's id, name or `match.labels`; a
source `value_stream` puts every response in one value stream.

Timestamps: Google's `2026/09/27 3:00:00 PM GMT+3`, a Sheet's `5/10/2026 09:15:00`, Microsoft's
`7/27/26 19:06:23` (`Completion time`). Numeric dates are month first unless a day above 12 shows
the file is day first, or `options.day_first` says so. Times without an offset are in the source
`timezone`.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from typing import Any

from ...config import Config, SourceSpec
from ...datasets import WESTRUM_ITEMS
from ...errors import Problem, SourceError
from .._model import FILE, ROW, RawFrame
from . import register
from ._common import ValueStreams, build_frame, read_csv_rows, slug, wrong_dataset

LABELS = {
    "strongly disagree": 1, "disagree": 2, "somewhat disagree": 3, "slightly disagree": 3, "mildly disagree": 3,
    "neither agree nor disagree": 4, "neither agree or disagree": 4, "neutral": 4, "undecided": 4,
    "somewhat agree": 5, "slightly agree": 5, "mildly agree": 5, "agree": 6, "strongly agree": 7,
}
STAMP_RE = re.compile(
    r"^(?P<a>\d{1,4})[/.\-](?P<b>\d{1,2})[/.\-](?P<c>\d{1,4})[ T,]+(?P<H>\d{1,2}):(?P<M>\d\d)(?::(?P<S>\d\d))?\s*(?P<ampm>[AaPp][Mm])?"
    r"\s*(?:(?:GMT|UTC)(?P<off>[+-]\d{1,2}(?::?\d\d)?)?)?$"
)
TIME_COLUMNS = {"google-forms": ("timestamp", "marca temporal", "zeitstempel", "horodateur", "отметка времени"), "microsoft-forms": ("completion time", "start time")}
RESPONDENT_COLUMNS = ("email address", "email", "id", "name")
QUIZ_COLUMN = re.compile(r"^(Points|Feedback) - ")  # Microsoft quiz columns repeat the question text


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def statement(header: str) -> str:
    """The statement of a grid column `Title [Statement]`, else the header."""
    m = re.search(r"\[([^\]]+)\]\s*$", header)
    return m.group(1) if m else header


def match_items(header: list[str], spec: SourceSpec) -> dict[str, int]:
    """westrum_N -> column index, by option or by the closest statement text (ratio >= 0.6)."""
    found: dict[str, int] = {}
    for item, _ in WESTRUM_ITEMS:
        wanted = spec.options.get(item)
        if wanted:
            hit = next((i for i, h in enumerate(header) if h.strip() == wanted.strip()), None)
            hit = hit if hit is not None else next((i for i, h in enumerate(header) if _words(wanted) in _words(h)), None)
            if hit is None:
                raise SourceError(problems=[Problem(f"expected a column headed {wanted!r}, found none", key=f"sources.{spec.dataset}.options.{item}", hint="copy the header text exactly from the export's first row")])
            found[item] = hit
    scores = []
    for item, text in WESTRUM_ITEMS:
        if item in found:
            continue
        for i, h in enumerate(header):
            if i in found.values() or QUIZ_COLUMN.match(h):
                continue
            a, b = _words(statement(h)), _words(text)
            score = 1.0 if a and (b in a) else difflib.SequenceMatcher(None, a, b).ratio()
            scores.append((score, item, i))
    for score, item, i in sorted(scores, reverse=True):
        if score >= 0.6 and item not in found and i not in found.values():
            found[item] = i
    return found


def answer(value: str | None) -> Any:
    """1..7 from a number or a label; anything else unchanged (normalize reports the row)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    m = re.match(r"^(\d+(?:[.,]\d+)?)\s*(?:[-–:.)]\s*.*)?$", text)
    if m:
        return m.group(1).replace(",", ".")
    return LABELS.get(" ".join(text.lower().split()), text)


def parse_stamp(text: str | None, day_first: bool) -> str | None:
    if text is None or not text.strip():
        return None
    m = STAMP_RE.match(text.strip())
    if not m:
        return text.strip()
    a, b, c = int(m["a"]), int(m["b"]), int(m["c"])
    if len(m["a"]) == 4:
        year, month, day = a, b, c
    else:
        year = c + 2000 if c < 100 else c
        month, day = (b, a) if day_first else (a, b)
    hour = int(m["H"])
    if m["ampm"]:
        hour = hour % 12 + (12 if m["ampm"].lower() == "pm" else 0)
    try:
        stamp = dt.datetime(year, month, day, hour, int(m["M"]), int(m["S"] or 0)).isoformat()
    except ValueError:
        return text.strip()
    if m["off"]:
        sign, rest = m["off"][0], m["off"][1:].replace(":", "")
        hours, minutes = (rest[:-2], rest[-2:]) if len(rest) > 2 else (rest, "00")
        return f"{stamp}{sign}{int(hours):02d}:{minutes}"
    if "GMT" in text or "UTC" in text:
        return stamp + "+00:00"
    return stamp


def _day_first(values: list[str], option: str | None) -> bool:
    if option is not None:
        return option.lower() in ("true", "yes", "1")
    for v in values:
        m = STAMP_RE.match(v.strip()) if v else None
        if m and len(m["a"]) < 4 and int(m["a"]) > 12:
            return True
    return False


def _read(config: Config, spec: SourceSpec, tool: str) -> RawFrame:
    if spec.dataset != "survey_responses":
        raise wrong_dataset(spec, tool, ("survey_responses",))
    vs = ValueStreams(config, spec)
    names = {v.name.lower(): v.id for v in config.value_streams}
    rows = []
    for shown, header, body in read_csv_rows(config, spec):
        low = [h.lower() for h in header]
        time_col = next((low.index(n) for n in TIME_COLUMNS[tool] if n in low), None)
        if time_col is None:
            raise SourceError(problems=[Problem(f"expected a {TIME_COLUMNS[tool][0].title()!r} column, found none (columns: {', '.join(header[:6])}…)", file=shown, hint=f"export the responses from {'Google Forms (Responses → Download CSV)' if tool == 'google-forms' else 'Microsoft Forms (Open in Excel, saved as CSV)'}")])
        items = match_items(header, spec)
        missing = [i for i, _ in WESTRUM_ITEMS if i not in items]
        if missing:
            texts = dict(WESTRUM_ITEMS)
            raise SourceError(problems=[Problem(f"expected a question like {texts[m]!r}, found none", file=shown, key=f"sources.{spec.dataset}.options.{m}", hint=f"name its column header in options: {{{m}: '<header text>'}}") for m in missing])
        wanted_team = spec.options.get("team_question")
        team_col = next((i for i, h in enumerate(header) if (wanted_team and h.strip() == wanted_team.strip()) or (not wanted_team and re.search(r"\bteam\b|value stream", h.lower()) and i not in items.values())), None)
        resp_col = next((low.index(n) for n in RESPONDENT_COLUMNS if n in low), None)
        day_first = _day_first([r[time_col] for _, r in body if len(r) > time_col], spec.options.get("day_first"))
        for row_no, cells in body:
            cell = lambda i: cells[i].strip() if i is not None and i < len(cells) else None  # noqa: E731
            team = cell(team_col) or None
            stream = names.get(team.lower()) if team and not spec.value_stream else None
            stream = stream or (vs(projects=[slug(team)], labels=[team]) if team else vs())
            who = cell(resp_col)
            row = {FILE: shown, ROW: row_no, "value_stream": stream, "submitted_at": parse_stamp(cell(time_col), day_first), "team": team, "respondent": None if (who or "").lower() in ("", "anonymous") else who}
            row |= {item: answer(cell(col)) for item, col in items.items()}
            rows.append(row)
    return build_frame(spec, rows, spec.path or "")


@register("google-forms")
def google_forms(config: Config, spec: SourceSpec) -> RawFrame:
    return _read(config, spec, "google-forms")


@register("microsoft-forms")
def microsoft_forms(config: Config, spec: SourceSpec) -> RawFrame:
    return _read(config, spec, "microsoft-forms")
