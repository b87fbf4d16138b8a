"""Helpers shared by the importer presets: reading API dumps and exports, building raw frames, value streams.

A preset turns the records of one tool into rows with canonical column names. Timestamps stay text
(ISO 8601, with or without an offset) so that `normalize` parses them and names the row of a bad one.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

import polars as pl

from ...config import Config, SourceSpec
from ...datasets import DATASETS
from ...errors import Problem, SourceError
from .._model import FILE, ROW, RawFrame
from ..files import _decode, display_path, expand


@dataclass(frozen=True)
class Record:
    """One object of an export, with where it came from (file shown to the user, 1-based position)."""

    file: str
    row: int
    data: dict[str, Any]


def wrong_dataset(spec: SourceSpec, preset: str, supported: Iterable[str]) -> SourceError:
    names = ", ".join(supported)
    return SourceError(problems=[Problem(f"the {preset} preset cannot provide {spec.dataset!r}; it provides {names}", key=f"sources.{spec.dataset}.format", hint=f"use format: {preset} only under sources.{{{names}}}")])


def _records_of(data: Any) -> list[Any] | None:
    """The records of a JSON document: a list, an API envelope holding one ({"workflow_runs": [...]}), or one object."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        if lists and "id" not in data:
            return lists[0]
        if not lists and "id" not in data and any(isinstance(v, list) for v in data.values()):
            return []  # an envelope of an empty page
        return [data]
    return None


def read_json_records(config: Config, spec: SourceSpec) -> list[Record]:
    """Every record in the JSON / NDJSON files that the source's path or glob names, in file order."""
    out: list[Record] = []
    for path in expand(config, spec):
        shown = display_path(config, path)
        text = _decode(path.read_bytes(), "utf-8", shown)
        try:
            if path.suffix.lower() in (".jsonl", ".ndjson"):
                data = None
            else:
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as exc:
                    if not exc.msg.startswith("Extra data"):
                        raise
                    data = None  # one JSON document per line under a .json name
            if data is None:
                for i, line in enumerate(text.splitlines(), 1):
                    if line.strip():
                        out.extend(Record(shown, i, rec) for rec in _records_of(json.loads(line)) or [] if isinstance(rec, dict))
                continue
        except json.JSONDecodeError as exc:
            raise SourceError(problems=[Problem(f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", file=shown, hint="export the API response as JSON (one document per file, or one object per line)")]) from None
        records = _records_of(data)
        if records is None:
            raise SourceError(problems=[Problem("expected a JSON list of objects, an API response holding one, or one object", file=shown)])
        out.extend(Record(shown, i, r) for i, r in enumerate(records, 1) if isinstance(r, dict))
    return out


def read_csv_rows(config: Config, spec: SourceSpec) -> list[tuple[str, list[str], list[tuple[int, list[str]]]]]:
    """(file shown, header, [(row number, cells)]) per file. Repeated headers stay repeated (Jira's Labels)."""
    files = []
    for path in expand(config, spec):
        shown = display_path(config, path)
        text = _decode(path.read_bytes(), spec.encoding, shown)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=spec.delimiter or ",")
        try:
            rows = list(reader)
        except csv.Error as exc:
            raise SourceError(problems=[Problem(f"cannot parse as CSV: {exc}", file=shown, hint="check for stray quotes")]) from None
        if not rows:
            raise SourceError(problems=[Problem("the file is empty", file=shown, hint="export the data again with a header row")])
        header = [h.strip() for h in rows[0]]
        # Spreadsheet row numbers: the header is row 1; a record with embedded newlines is still one row.
        body = [(i, r) for i, r in enumerate(rows[1:], 2) if any(c.strip() for c in r)]
        files.append((shown, header, body))
    return files


def build_frame(spec: SourceSpec, rows: list[dict[str, Any]], origin: str, *, dedupe: str | None = None) -> RawFrame:
    """A RawFrame from canonical rows (each with FILE and ROW); values become text.

    `dedupe` names an id column whose repeats collapse to the last one: API dumps repeat an object
    when pages overlap, and the later copy is the newer state.
    """
    if dedupe:
        last = {r.get(dedupe): i for i, r in enumerate(rows)}
        rows = [r for i, r in enumerate(rows) if r.get(dedupe) is None or last[r.get(dedupe)] == i]
    cols = [c for c in DATASETS[spec.dataset].columns if any(c in r for r in rows) or c in DATASETS[spec.dataset].required]
    data: dict[str, list[Any]] = {c: [] for c in cols}
    data[FILE], data[ROW] = [], []
    for r in rows:
        for c in cols:
            v = r.get(c)
            data[c].append(None if v is None or v == "" else str(v) if not isinstance(v, str) else v)
        data[FILE].append(r[FILE])
        data[ROW].append(r[ROW])
    schema = {c: pl.String for c in cols} | {FILE: pl.String, ROW: pl.Int64}
    return RawFrame(frame=pl.DataFrame(data, schema=schema), origin=origin, timezone=spec.timezone)


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """obj['a']['b'] without KeyErrors; None-safe."""
    for key in path:
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return default
        if obj is None:
            return default
    return obj


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class ValueStreams:
    """Assigns a value stream to a row from the keys a tool knows (project, labels, repository, service).

    Order: the source's `value_stream`; then `match` rules in display order; then a value stream whose
    id is the key itself (project `CHK` -> `chk`, repo `org/checkout` -> `checkout`); then, when the
    project has exactly one value stream and no match rules, that one. Otherwise the row keeps the
    key it was found under, so `flowsite check` lists it as an unmapped value stream and drops it.
    A project without value streams takes the keys as value streams (`acme/checkout-web` -> `checkout-web`).
    """

    def __init__(self, config: Config, spec: SourceSpec):
        self.fixed = spec.value_stream
        self.rules = [(vs.id, {k: {x.lower() for x in v} for k, v in vs.match.items()}) for vs in config.value_streams]
        self.ids = {vs.id for vs in config.value_streams}
        self.only = config.value_streams[0].id if len(config.value_streams) == 1 and not any(vs.match for vs in config.value_streams) else None
        self.derive = not config.value_streams

    def __call__(self, *, projects: Iterable[str | None] = (), labels: Iterable[str | None] = (), repos: Iterable[str | None] = (), services: Iterable[str | None] = ()) -> str | None:
        if self.fixed:
            return self.fixed
        keys = {
            "projects": [p for p in projects if p],
            "labels": [x for x in labels if x],
            "repos": [r for r in repos if r],
            "services": [s for s in services if s],
        }
        repo_short = [r.rsplit("/", 1)[-1] for r in keys["repos"]]
        for vs_id, rules in self.rules:
            for kind, wanted in rules.items():
                have = {x.lower() for x in keys.get(kind, [])}
                if kind == "repos":
                    have |= {r.lower() for r in repo_short}
                if have & wanted:
                    return vs_id
        for key in keys["projects"] + repo_short + keys["services"]:
            if slug(key) in self.ids:
                return slug(key)
        if self.only:
            return self.only
        if self.derive:  # no value streams configured: the keys become value streams, as URL-safe ids
            first = next(iter(keys["projects"] + repo_short + keys["services"]), None)
            return slug(first) if first else None
        return next(iter(keys["projects"] + keys["repos"] + keys["services"]), None)


def split_list(value: str | None, sep: str = ",") -> list[str]:
    if not value:
        return []
    return [x.strip() for x in value.split(sep) if x.strip()]


def option_list(spec: SourceSpec, key: str, default: Iterable[str] = ()) -> list[str]:
    value = spec.options.get(key)
    return split_list(value) if value else list(default)


def repo_from_url(url: str | None) -> str | None:
    """owner/name from a GitHub API or web URL (…/repos/o/r/… or github.com/o/r/…)."""
    if not url:
        return None
    m = re.search(r"/repos/([^/]+/[^/]+)", url) or re.search(r"github\.com/([^/]+/[^/]+)", url)
    return m.group(1) if m else None


def parse_iso(text: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp as an aware datetime, or None. Only for ordering and linking rows inside
    a preset (naive values are taken as UTC there); the canonical columns stay text for normalize."""
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    value = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", value)
    m = re.match(r"^(.*?T\d\d:\d\d:\d\d)\.(\d+)(.*)$", value)
    if m:  # Python wants 3 or 6 fractional digits; APIs send 2 to 7
        value = f"{m[1]}.{(m[2] + '000000')[:6]}{m[3]}"
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def link_deployments(changes: list[dict[str, Any]], deployments: list[dict[str, Any]], environments: tuple[str, ...]) -> None:
    """Set deployed_at / deployment_id: the deployment of the merge commit, else the next one after the merge."""
    prod = [d for d in deployments if parse_iso(d.get("finished_at")) and d.get("result") in (None, "success") and (d.get("environment") or "").lower() in environments]
    timed = sorted(((parse_iso(d["finished_at"]), d) for d in prod), key=lambda t: t[0])
    by_sha = {}
    for _, d in reversed(timed):  # the earliest deployment of a commit wins
        by_sha[d.get("commit_sha")] = d
    for ch in changes:
        dep = by_sha.get(ch.get("commit_sha")) if ch.get("commit_sha") else None
        merged = parse_iso(ch.get("merged_at"))
        if dep is None and merged is not None:
            dep = next((d for t, d in timed if t >= merged and d.get("_repo") == ch.get("_repo")), None)
        if dep is not None:
            ch["deployed_at"], ch["deployment_id"] = dep["finished_at"], dep["id"]
