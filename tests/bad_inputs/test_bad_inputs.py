"""Hostile and broken projects through the real CLI: exit 1, a message naming the file and the row or
key (with a hint where one helps), and the existing output folder byte-for-byte unchanged.

Every case starts from the tiny valid project (tests/bad_inputs/tiny.py) and breaks one thing.
Data-quality drops are not errors: they build with a counted, reasoned warning and fail with --strict.
"""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import polars as pl
import pytest

from tests.bad_inputs.tiny import CONFIG, DEPLOYMENTS, INCIDENTS, KPIS, WORK_ITEMS, write_tiny
from tests.conftest import run_cli, tree_digest


def with_config(**changes) -> Callable[[dict], None]:
    def edit(c: dict) -> None:
        c.update(copy.deepcopy(changes))
    return edit


def with_source(dataset: str, spec) -> Callable[[dict], None]:
    def edit(c: dict) -> None:
        c["sources"][dataset] = copy.deepcopy(spec)
    return edit


def with_vs(index: int, **changes) -> Callable[[dict], None]:
    def edit(c: dict) -> None:
        c["value_streams"][index].update(copy.deepcopy(changes))
    return edit


def parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


KPI_FRAME = {"value_stream": ["shop"], "kpi": ["conversion"], "date": ["2026-07-31"], "value": [2.3]}


def kpi_parquet(**cols) -> bytes:
    data = {**KPI_FRAME, **cols}
    return parquet(pl.DataFrame(data))


@dataclass
class Case:
    id: str
    expect: list[str]  # regexes that must all appear in the output
    config: Callable[[dict], None] | None = None
    config_text: str | None = None
    files: dict[str, str | bytes | None] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    out: str | None = None  # output folder relative to tmp_path; default: the existing site
    prepare: Callable[[Path, Path], None] | None = None  # (project, tmp_path)

    def __str__(self) -> str:
        return self.id


WI = WORK_ITEMS.replace("\n", "\r\n")  # Windows line endings must not matter
E_DATA = r"Aborted with a data error"

CASES = [
    # --- flowsite.yml: syntax ---------------------------------------------------------------
    Case("yaml-unclosed-bracket", [r"flowsite\.yml:\d+: invalid YAML", "hint: check indentation"], config_text="name: [Tiny\nwindow: 3\n"),
    Case("yaml-tab-indent", [r"flowsite\.yml:3: invalid YAML: found character '\\t'", "hint:"], config_text="name: Tiny\nsources:\n\twork_items: data/work_items.csv\n"),
    Case("yaml-duplicate-key", [r"flowsite\.yml:3: duplicate key 'window' \(also on line 2\)", "hint: keep one"], config_text="name: Tiny\nwindow: 3\nwindow: 4\n"),
    Case("yaml-unhashable-key", [r"flowsite\.yml:2: expected a plain key, got a list", "hint: quote the key"], config_text="name: Tiny\nsources: {[1, 2]: x}\n"),
    Case("yaml-alias-bomb", [r"flowsite\.yml:\d+: expected a config, got more than \d+ values once aliases are expanded", "hint: remove the nested aliases"],
         config_text="name: x\na: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                     "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"),
    Case("yaml-top-level-list", [r"flowsite\.yml:1: expected a mapping of settings at the top level, got a list", "hint: start with `name:"], config_text="- name: Tiny\n"),
    Case("config-empty-file", [r"flowsite\.yml:?\d*: name: expected text, got nothing", "hint: this key is required"], config_text=""),
    Case("config-latin-1", [r"flowsite\.yml: expected UTF-8 text, got undecodable bytes", "hint: save the file as UTF-8"], files={"flowsite.yml": "name: Caf\xe9\n".encode("latin-1")}),
    Case("config-missing", [r"no flowsite\.yml in this folder", "hint: run `flowsite init DIR`"], files={"flowsite.yml": None}, prepare=lambda p, t: (p / "flowsite.yml").unlink()),
    # --- flowsite.yml: types and values ------------------------------------------------------
    Case("window-as-word", [r"flowsite\.yml:\d+: window: expected a whole number, got text 'three'"], config=with_config(window="three")),
    Case("window-quoted-number", [r"flowsite\.yml:\d+: window: expected a whole number, got text '3'", "hint: remove the quotes"], config=with_config(window="3")),
    Case("window-out-of-range", [r"window: expected a whole number between 1 and 520, got 0"], config=with_config(window=0)),
    Case("period-typo", [r"period: expected one of week, month, quarter, got text 'monthly'", "hint: did you mean 'month'"], config=with_config(period="monthly")),
    Case("timezone-typo", [r"timezone: expected an IANA time zone.*'Europe/Berln'", "hint: did you mean 'Europe/Berlin'"], config=with_config(timezone="Europe/Berln")),
    Case("as-of-impossible-date", [r"as_of: expected a date like 2026-10-31, got text '2026-13-45'"], config=with_config(as_of="2026-13-45")),
    Case("markdown-html-as-text", [r"markdown\.html: expected true or false, got text 'yes please'", "hint: write true or false"], config=with_config(markdown={"html": "yes please"})),
    Case("value-streams-not-a-list", [r"flowsite\.yml:\d+: value_streams: expected a list of a mapping, got a mapping"], config=with_config(value_streams={"id": "shop"})),
    Case("value-stream-as-text", [r"flowsite\.yml:\d+: value_streams\[0\]: expected a mapping, got text 'shop'"], config=with_config(value_streams=["shop"])),
    Case("value-stream-id-uppercase", [r"value_streams\[0\]\.id: expected a lowercase id.*'Shop'"], config=with_vs(0, id="Shop")),
    Case("value-stream-duplicate-id", [r"value_streams\[1\]\.id: expected a unique id, got 'shop' a second time", "hint: each value stream needs its own id"], config=with_vs(1, id="shop")),
    Case("investment-not-summing-to-1", [r"value_streams\[0\]\.investment: expected shares summing to 1, got 1\.5", "hint: write shares as fractions"],
         config=with_vs(0, investment={"feature": 1.0, "defect": 0.5})),
    Case("investment-unknown-type", [r"value_streams\[0\]\.investment\.features: expected one of feature, defect, risk, debt", "hint: did you mean 'feature'"],
         config=with_vs(0, investment={"features": 1.0})),
    Case("kpi-duplicate-id", [r"value_streams\[0\]\.kpis: expected unique KPI ids, got 'conversion' twice"], config=with_vs(0, kpis=[{"id": "conversion"}, {"id": "conversion"}])),
    Case("source-unknown-dataset", [r"sources\.work_item: expected a canonical dataset name, got 'work_item'", "hint: did you mean 'work_items'"],
         config=lambda c: c["sources"].update({"work_item": c["sources"].pop("work_items")})),
    Case("source-without-path", [r"sources\.kpis: expected one of path, duckdb, dbt_ref or postgres, got none", "hint: e.g. `kpis: data/kpis.csv`"], config=with_source("kpis", {"timezone": "UTC"})),
    Case("source-columns-as-list", [r"sources\.work_items\.columns: expected a mapping, got a list"], config=with_source("work_items", {"path": "data/work_items.csv", "columns": ["id"]})),
    Case("source-bad-encoding-name", [r"sources\.kpis\.encoding: expected one of utf-8, utf-16, latin-1, cp1252, got text 'ebcdic'"], config=with_source("kpis", {"path": "data/kpis.csv", "encoding": "ebcdic"})),
    Case("theme-folder-missing", [r"flowsite\.yml: theme\.custom_dir: theme folder not found", "hint: create the folder"], config=with_config(theme={"custom_dir": "no-such-theme"})),
    # --- data files: presence and shape ------------------------------------------------------
    Case("data-file-missing", [r"data/incidents\.csv: sources\.incidents\.path: file not found", "hint: paths are relative to the project folder", E_DATA], files={"data/incidents.csv": None}),
    Case("data-file-empty", [r"data/incidents\.csv: the file is empty", "hint: export the data again with a header row"], files={"data/incidents.csv": ""}),
    Case("data-path-is-folder", [r"data: sources\.work_items\.path: expected a file, got a folder", "hint: use a glob"], config=with_source("work_items", "data")),
    Case("glob-matches-nothing", [r"flowsite\.yml: sources\.deployments\.path: the glob 'exports/deploy-\*\.csv' matched no files", "hint: check the folder and the pattern"],
         config=with_source("deployments", "exports/deploy-*.csv")),
    Case("unknown-extension", [r"deployments\.xlsx: sources\.deployments\.format: cannot tell the format from the extension '\.xlsx'", "hint: set format: csv"],
         config=with_source("deployments", "data/deployments.xlsx"), files={"data/deployments.xlsx": DEPLOYMENTS}),
    Case("unknown-format-or-preset", [r"flowsite\.yml: sources\.deployments\.format: unknown format or preset 'jenkins-xml'", "hint: use csv, parquet, json, ndjson or one of"],
         config=with_source("deployments", {"path": "data/deployments.csv", "format": "jenkins-xml"})),
    Case("missing-required-column", [r"data/incidents\.csv: column 'created_at': expected a column for 'created_at', found none \(columns: id, value_stream, resolved_at\)",
                                     "hint: map it in flowsite.yml: sources.incidents.columns.created_at"],
         files={"data/incidents.csv": "id,value_stream,resolved_at\nINC-1,shop,2026-08-01T21:00:00Z\n"}),
    Case("mapped-column-missing", [r"data/work_items\.csv: sources\.work_items\.columns\.created_at: column 'created': expected a column 'created' \(mapped to 'created_at'\)", "hint: column names are case-sensitive"],
         config=with_source("work_items", {"path": "data/work_items.csv", "columns": {"created_at": "created"}})),
    Case("semicolon-separated", [r"data/work_items\.csv: column 'id': expected a column for 'id'", r"hint: the header looks ';'-separated: set `delimiter: ';'`"],
         files={"data/work_items.csv": WORK_ITEMS.replace(",", ";")}),
    Case("delimiter-too-long", [r"data/work_items\.csv: sources\.work_items\.delimiter: expected a one-character field separator, got ';;'", "hint: use one ASCII character"],
         config=with_source("work_items", {"path": "data/work_items.csv", "delimiter": ";;"})),
    # --- data files: values -----------------------------------------------------------------
    Case("unparseable-date", [r"data/work_items\.csv: row 3: column 'created_at': expected a timestamp like .*, got 'last Tuesday'", "hint: write ISO 8601"],
         files={"data/work_items.csv": WI.replace("2026-07-10T09:00:00Z", "last Tuesday")}),
    Case("day-first-date-without-format", [r"data/kpis\.csv: row 2: column 'date': expected a timestamp.*'31/07/2026'", "hint: .*date_format"],
         files={"data/kpis.csv": KPIS.replace("2026-07-31", "31/07/2026")}),
    Case("local-time-in-dst-gap", [r"data/work_items\.csv: row 3: column 'created_at': .*'2026-03-29T02:30:00'", "hint: this local time does not exist in Europe/Berlin"],
         config=with_config(timezone="Europe/Berlin"), files={"data/work_items.csv": WORK_ITEMS.replace("2026-07-10T09:00:00Z", "2026-03-29T02:30:00")}),
    Case("utc-offset-out-of-range", [r"data/work_items\.csv: row 3: column 'created_at': .*'2026-07-10T09:00:00\+99:00'", "hint:"],
         files={"data/work_items.csv": WORK_ITEMS.replace("2026-07-10T09:00:00Z", "2026-07-10T09:00:00+99:00")}),
    Case("ten-megabyte-date-field", [r"data/work_items\.csv: row 3: column 'created_at': expected a timestamp.*got 'xxxx.*…' \(10000000 characters\)"],
         files={"data/work_items.csv": WORK_ITEMS.replace("2026-07-10T09:00:00Z", "x" * 10_000_000)}),
    Case("number-as-word", [r"data/kpis\.csv: row 3: column 'value': expected a finite number, got 'high'"], files={"data/kpis.csv": KPIS.replace("2.4", "high")}),
    Case("number-nan-and-infinity", [r"data/kpis\.csv: row 2: column 'value': expected a finite number, got 'nan'", r"row 3: column 'value': .*got '-inf'"],
         files={"data/kpis.csv": KPIS.replace("2.3", "nan").replace("2.4", "-inf")}),
    Case("westrum-answer-out-of-scale", [r"data/survey\.csv: row 2: column 'westrum_3': expected an answer from 1 to 7, got '9'"],
         config=with_source("survey_responses", "data/survey.csv"),
         files={"data/survey.csv": "value_stream,submitted_at,westrum_1,westrum_2,westrum_3,westrum_4,westrum_5,westrum_6\nshop,2026-08-01,5,5,9,5,5,5\n"}),
    Case("duplicate-ids", [r"data/deployments\.csv: column 'id': expected unique ids, got id 'd-2' on 2 rows \(data/deployments\.csv row 3, data/deployments\.csv row 6\)", "hint: remove the duplicate rows"],
         files={"data/deployments.csv": DEPLOYMENTS + "d-2,app,production,success,2026-09-20T18:00:00Z\n"}),
    Case("unknown-item-type", [r"data/work_items\.csv: row 3: column 'type': expected a flow item type \(feature, defect, risk, debt\), got 'Spike'", r"hint: map it in flowsite\.yml, e\.g\. types: \{feature: \['Spike'\]\}"],
         files={"data/work_items.csv": WORK_ITEMS.replace("defect,shop", "Spike,shop")}),
    Case("kpi-id-is-a-path", [r"data/kpis\.csv: row 5: column 'kpi': expected a KPI id \(lowercase letters, digits, - and _\), got '\.\./\.\./\.\./pwned'", "hint: use the KPI's id"],
         files={"data/kpis.csv": KPIS + "shop,../../../pwned,2026-09-30,1\n"}),
    Case("value-stream-id-is-a-path", [r"data/deployments\.csv: row 2: column 'value_stream': expected a value stream id .*got '\.\./\.\./\.\./\.\./pwned'", "hint: declare value_streams"],
         config=lambda c: c.pop("value_streams"),
         files={"data/deployments.csv": DEPLOYMENTS.replace("d-1,shop", "d-1,../../../../pwned")}),
    Case("is-rework-not-boolean", [r"data/deployments\.csv: row 2: column 'is_rework': expected true or false, got 'maybe'"],
         files={"data/deployments.csv": DEPLOYMENTS.replace("id,value_stream,environment,result,finished_at", "id,value_stream,environment,result,finished_at,is_rework").replace("success,2026-07-09T18:00:00Z", "success,2026-07-09T18:00:00Z,maybe")}),
    # --- encodings and CSV syntax -------------------------------------------------------------
    Case("latin-1-without-encoding", [r"data/work_items\.csv: expected utf-8 text, got undecodable bytes at line 3", "hint: set `encoding: latin-1`"],
         files={"data/work_items.csv": WORK_ITEMS.replace("A bug", "A b\xfcg").encode("latin-1")}),
    Case("utf-16-without-bom", [r"data/work_items\.csv: expected utf-8 text, got NUL characters at line 1", "hint: set `encoding: utf-16`"],
         files={"data/work_items.csv": WORK_ITEMS.encode("utf-16-le")}),
    Case("csv-stray-quote", [r"data/work_items\.csv: cannot parse as CSV", "hint: check for stray quotes"], files={"data/work_items.csv": WORK_ITEMS.replace("A bug", '"A bug" x')}),
    Case("csv-unclosed-quote", [r"data/work_items\.csv: cannot parse as CSV", "hint: check for stray quotes"], files={"data/work_items.csv": WORK_ITEMS.replace("A bug", '"A bug')}),
    Case("csv-ragged-row", [r"data/work_items\.csv: cannot parse as CSV", "rows with more fields than the header"], files={"data/work_items.csv": WORK_ITEMS.replace("A bug,", "A bug,extra,")}),
    # --- JSON, NDJSON, Parquet -----------------------------------------------------------------
    Case("json-syntax", [r"data/kpis\.json:2: invalid JSON: .* at line 2"], config=with_source("kpis", "data/kpis.json"), files={"data/kpis.json": '[{"value_stream": "shop",\n oops}]'}),
    Case("json-not-records", [r"data/kpis\.json: expected a JSON list of records"], config=with_source("kpis", "data/kpis.json"), files={"data/kpis.json": '"just text"'}),
    Case("json-record-not-object", [r"data/kpis\.json: row 2: expected an object \(record\)"], config=with_source("kpis", "data/kpis.json"),
         files={"data/kpis.json": '[{"value_stream": "shop", "kpi": "conversion", "date": "2026-07-31", "value": 1}, [1, 2]]'}),
    Case("json-deeply-nested", [r"data/kpis\.json: expected JSON records, got values nested too deeply"], config=with_source("kpis", "data/kpis.json"), files={"data/kpis.json": "[" * 100_000 + "]" * 100_000}),
    Case("ndjson-bad-line", [r"data/kpis\.ndjson:3: invalid JSON: .* at line 3", "hint: each line must be one JSON object"], config=with_source("kpis", "data/kpis.ndjson"),
         files={"data/kpis.ndjson": '{"value_stream":"shop","kpi":"conversion","date":"2026-07-31","value":1}\n\n{"value_stream": shop}\n'}),
    Case("parquet-corrupt", [r"data/kpis\.parquet: cannot read as Parquet", "hint: check the file is a complete Parquet file"], config=with_source("kpis", "data/kpis.parquet"), files={"data/kpis.parquet": b"PAR1 not really"}),
    Case("parquet-number-as-date", [r"data/kpis\.parquet: row 1: column 'date': expected a timestamp.*got '20260731'"], config=with_source("kpis", "data/kpis.parquet"), files={"data/kpis.parquet": kpi_parquet(date=[20260731])}),
    Case("parquet-text-as-number", [r"data/kpis\.parquet: row 1: column 'value': expected a finite number, got 'lots'"], config=with_source("kpis", "data/kpis.parquet"), files={"data/kpis.parquet": kpi_parquet(value=["lots"])}),
    Case("parquet-list-column", [r"data/kpis\.parquet: column 'value_stream': expected a column of plain values, got List", "hint: export this column as text"],
         config=with_source("kpis", "data/kpis.parquet"), files={"data/kpis.parquet": kpi_parquet(value_stream=[["shop"]])}),
    Case("parquet-mixed-time-zones", [r"data/kpis/b\.parquet: column 'date': expected the same type in every file, got Datetime\(.*UTC.*\) in data/kpis/a\.parquet and Datetime\(.*\) here",
                                      "hint: export every file the same way"],
         config=with_source("kpis", "data/kpis/*.parquet"),
         files={"data/kpis/a.parquet": kpi_parquet(date=pl.Series([dt.datetime(2026, 7, 31, tzinfo=dt.timezone.utc)])),
                "data/kpis/b.parquet": kpi_parquet(date=pl.Series([dt.datetime(2026, 8, 31)]))}),
    Case("parquet-struct-column", [r"data/kpis\.parquet: column 'date': expected a column of plain values, got Struct"], config=with_source("kpis", "data/kpis.parquet"), files={"data/kpis.parquet": kpi_parquet(date=[{"y": 2026}])}),
    # --- value stream maps and pages -----------------------------------------------------------
    Case("vsm-file-missing", [r"maps/shop\.yml: value_streams\[shop\]\.map: value stream map file not found", "hint: paths are relative"], config=with_vs(0, map="maps/shop.yml")),
    Case("vsm-wrong-type", [r"maps/shop\.yml:\d+: steps\[0\]\.process_time: expected a number >= 0"], config=with_vs(0, map="maps/shop.yml"),
         files={"maps/shop.yml": "steps:\n  - {name: Build, process_time: lots, lead_time: 4, pct_complete_accurate: 90}\n"}),
    Case("page-front-matter-unclosed", [r"pages/about\.md:1: front matter starts with --- but never ends", "hint: close it"], files={"pages/about.md": "---\ntitle: About\n# About\n"}),
    Case("page-front-matter-invalid", [r"pages/about\.md:\d+: invalid front matter"], files={"pages/about.md": "---\ntitle: [About\n---\n# About\n"}),
    Case("page-not-utf-8", [r"pages/about\.md: expected UTF-8 text", "hint: save the page as UTF-8"], files={"pages/about.md": "# Caf\xe9\n".encode("latin-1")}),
    Case("page-unknown-shortcode-target", [r"pages/about\.md: unknown value stream or metric in \[\[figure nowhere flow_time\]\]", r"hint: use \[\[figure VALUE_STREAM_ID METRIC_ID\]\]"],
         files={"pages/about.md": "# About\n\n[[figure nowhere flow_time]]\n"}),
    Case("page-bad-slug", [r"pages/about\.md: slug: expected a slug of lowercase letters", ], files={"pages/about.md": "---\nslug: ../../etc\n---\n# About\n"}),
    # --- output folder and version names --------------------------------------------------------
    Case("version-dot-dot", [r"invalid version name '\.\./x'", "hint: use a period such as 2026-10"], args=["--version", "../x"]),
    Case("version-with-slash", [r"invalid version name 'a/b'", "hint:"], args=["--version", "a/b"]),
    Case("version-reserved-name", [r"invalid version name 'assets'"], args=["--version", "assets"]),
    Case("version-empty", [r"invalid version name ''"], args=["--version", ""]),
    Case("alias-dot-dot", [r"invalid alias '\.\./\.\./etc'"], args=["--alias", "../../etc"]),
    Case("version-is-an-alias", [r"'latest' is already an alias of another version", "hint: choose another --version"], args=["--version", "latest"]),
    Case("versions-json-corrupt", [r"site/versions\.json: expected mike's versions\.json format", "hint: restore the file"], prepare=lambda p, t: (t / "site" / "versions.json").write_text("{oops")),
    Case("versions-json-hostile-name", [r"site/versions\.json: invalid alias '\.\./\.\./home'", "hint: fix or remove this entry"],
         prepare=lambda p, t: (t / "site" / "versions.json").write_text('[{"version": "2026-09", "title": "x", "aliases": ["../../home"]}]')),
    Case("out-inside-data-folder", [r"the output folder is inside the data folder data/", "hint: write the site outside the data folder"], out="project/data/site"),
    Case("out-contains-project", [r"project: the output folder would contain the project itself", "hint: use a subfolder"], out="project"),
    Case("out-is-a-file", [r"site\.txt: the output path exists and is a file, not a folder", "hint: pass --out with a folder path"], out="site.txt",
         prepare=lambda p, t: (t / "site.txt").write_text("not a folder")),
    Case("out-parent-is-a-file", [r"cannot create the output's parent folder", r"notes\.txt"], out="notes.txt/site", prepare=lambda p, t: (t / "notes.txt").write_text("x")),
]


@pytest.fixture(scope="module")
def base_site(tmp_path_factory) -> Path:
    """One good build of the tiny project, copied into each case as the existing site."""
    root = tmp_path_factory.mktemp("base")
    project = write_tiny(root / "project")
    r = run_cli("build", project, "--out", root / "site")
    assert r.exit_code == 0, r.output
    return root / "site"


def snapshot(path: Path) -> dict[str, str] | str | None:
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return tree_digest(path) if path.exists() else None


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.rglob(".flowsite-*"))


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input_exits_1_names_the_place_and_keeps_the_site(case: Case, base_site: Path, tmp_path: Path):
    project = tmp_path / "project"
    config = copy.deepcopy(CONFIG)
    if case.config:
        case.config(config)
    write_tiny(project, config, {k: v for k, v in case.files.items() if k != "flowsite.yml"}, config_text=case.config_text)
    if isinstance(case.files.get("flowsite.yml"), bytes):
        (project / "flowsite.yml").write_bytes(case.files["flowsite.yml"])
    site = tmp_path / "site"
    shutil.copytree(base_site, site)
    if case.prepare:
        case.prepare(project, tmp_path)
    out = tmp_path / case.out if case.out else site
    watched = {p: snapshot(p) for p in {site, out, project}}

    r = run_cli("build", project, "--out", out, *case.args)

    assert r.exit_code == 1, f"expected exit 1, got {r.exit_code}:\n{r.output}"
    for pattern in case.expect:
        assert re.search(pattern, r.output), f"{pattern!r} not in:\n{r.output[:3000]}"
    assert "Traceback" not in r.output
    assert len(r.output) < 20_000, "messages must stay short whatever the input"
    for path, before in watched.items():
        assert snapshot(path) == before, f"{path} changed"
    assert leftovers(tmp_path) == []
    assert not [p for p in tmp_path.parent.rglob("pwned*")], "a name from the data escaped the output folder"


def test_write_paths_are_checked_before_joining():
    from flowsite.errors import BuildError
    from flowsite.publish import safe_relpath

    assert safe_relpath("value-streams/shop/index.html") == "value-streams/shop/index.html"
    for bad in ["../x", "a/../../x", "/etc/passwd", "a//b", "a\\..\\b", "./a", "a/", "", "a\x00b"]:
        with pytest.raises(BuildError, match="would leave the output folder"):
            safe_relpath(bad)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="running as root: permission bits do not stop root from writing (CI runs as root; the out-parent-is-a-file case covers an unwritable output there)")
def test_read_only_output_folder(base_site: Path, tmp_path: Path):
    project = write_tiny(tmp_path / "project")
    parent = tmp_path / "ro"
    shutil.copytree(base_site, parent / "site")
    before = tree_digest(parent / "site")
    for d in [parent / "site", *[p for p in (parent / "site").rglob("*") if p.is_dir()], parent]:
        d.chmod(0o555)
    try:
        r = run_cli("build", project, "--out", parent / "site")
    finally:
        for d in [parent, parent / "site", *[p for p in (parent / "site").rglob("*") if p.is_dir()]]:
            d.chmod(0o755)
    assert r.exit_code == 1, r.output
    assert re.search(r"ro/site: the output folder is not writable", r.output) and "hint: check permissions" in r.output
    assert tree_digest(parent / "site") == before


# ---- data-quality drops: built with a counted, reasoned warning; fatal with --strict --------------

@dataclass
class Drop:
    id: str
    expect: list[str]
    config: Callable[[dict], None] | None = None
    files: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.id


DROPS = [
    Drop("unknown-config-key", [r"Warning: .*flowsite\.yml:\d+: value_streams\[0\]\.owner: unknown key, ignored", "hint: did you mean 'owners'"], config=with_vs(0, owner="Ann")),
    Drop("resolved-before-created", [r"Warning: data/incidents\.csv: 1 row\(s\) dropped: resolved_at before created_at \(row 2\)"],
         files={"data/incidents.csv": INCIDENTS.replace("2026-08-01T21:00:00Z", "2026-07-01T21:00:00Z")}),
    Drop("completed-before-created", [r"Warning: data/work_items\.csv: 1 row\(s\) dropped: completed_at before created_at \(row 4\)"],
         files={"data/work_items.csv": WORK_ITEMS.replace("2026-08-20T12:00:00Z", "2026-06-20T12:00:00Z")}),
    Drop("unknown-value-stream", [r"Warning: data/deployments\.csv: 1 row\(s\) dropped: value stream not in flowsite\.yml \('warehouse'\) \(row 6\)"],
         files={"data/deployments.csv": DEPLOYMENTS + "d-9,warehouse,production,success,2026-09-20T18:00:00Z\n"}),
    Drop("missing-required-value", [r"Warning: data/work_items\.csv: 1 row\(s\) dropped: missing created_at \(row 3\)"],
         files={"data/work_items.csv": WORK_ITEMS.replace("2026-07-10T09:00:00Z", "")}),
    Drop("unmapped-status", [r"Warning: data/status\.csv: column 'status': statuses with no category are ignored.*'Parked'", "hint: map them under `statuses:`"],
         config=with_source("status_changes", "data/status.csv"), files={"data/status.csv": "item_id,status,changed_at\nW-1,In Progress,2026-07-03T09:00:00Z\nW-1,Parked,2026-07-04T09:00:00Z\n"}),
    Drop("header-only-file", [r"Warning: data/incidents\.csv: the file has a header but no rows"], files={"data/incidents.csv": "id,value_stream,created_at,resolved_at\n"}),
]


@pytest.mark.parametrize("drop", DROPS, ids=str)
def test_data_quality_drop_is_reported_and_fatal_with_strict(drop: Drop, base_site: Path, tmp_path: Path):
    config = copy.deepcopy(CONFIG)
    if drop.config:
        drop.config(config)
    project = write_tiny(tmp_path / "project", config, drop.files)
    site = tmp_path / "site"
    shutil.copytree(base_site, site)
    before = tree_digest(site)

    strict = run_cli("build", project, "--out", site, "--version", "2026-10", "--strict")
    assert strict.exit_code == 1, strict.output
    assert re.search(r"fatal with --strict", strict.output), strict.output
    assert tree_digest(site) == before and leftovers(tmp_path) == []

    r = run_cli("build", project, "--out", site, "--version", "2026-10")
    assert r.exit_code == 0, r.output
    for pattern in drop.expect:
        assert re.search(pattern, r.output), f"{pattern!r} not in:\n{r.output}"
    assert (site / "2026-10" / "index.html").is_file()

    if "dropped" in " ".join(drop.expect):
        checked = run_cli("check", project)
        assert checked.exit_code == 0, checked.output
        assert re.search(r"dropped 1: ", checked.output), checked.output


# ---- awkward but valid input: read correctly, not rejected ------------------------------------------

ACCEPTED = {
    "utf-8-bom": {"data/work_items.csv": b"\xef\xbb\xbf" + WORK_ITEMS.encode()},
    "utf-16-with-bom": {"data/work_items.csv": WORK_ITEMS.replace("A bug", "A büg").encode("utf-16")},
    "quoted-newline-and-quotes": {"data/work_items.csv": WORK_ITEMS.replace("A bug", '"A bug, with ""quotes""\nand a second line"')},
    "mixed-offsets": {"data/work_items.csv": WORK_ITEMS.replace("2026-07-10T09:00:00Z", "2026-07-10T11:00:00+02:00").replace("2026-08-03T09:00:00Z", "2026-08-03 09:00")},
    "ten-megabyte-unused-field": {"data/work_items.csv": WORK_ITEMS.replace("completed_at\n", "completed_at,notes\n", 1).replace("2026-07-12T10:00:00Z\n", "2026-07-12T10:00:00Z," + "n" * 10_000_000 + "\n")},
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_awkward_but_valid_files_are_read_correctly(name: str, tmp_path: Path):
    from flowsite._build import check

    config = copy.deepcopy(CONFIG)
    if name == "utf-16-with-bom":
        config["sources"]["work_items"] = {"path": "data/work_items.csv", "encoding": "utf-16"}
    project = write_tiny(tmp_path / "project", config, ACCEPTED[name])
    r = run_cli("build", project, "--out", tmp_path / "site")
    assert r.exit_code == 0, r.output
    wi = check(project).datasets.frames["work_items"].sort("id")
    assert wi.get_column("id").to_list() == ["W-1", "W-2", "W-3", "W-4", "W-5"]
    title = wi.get_column("title")[1]
    created = wi.get_column("created_at")
    assert created.dtype == pl.Datetime("us", "UTC")
    assert created[1].isoformat() == "2026-07-10T09:00:00+00:00"
    if name == "utf-16-with-bom":
        assert title == "A büg"
    if name == "quoted-newline-and-quotes":
        assert title == 'A bug, with "quotes"\nand a second line'
    if name == "mixed-offsets":
        assert created[2].isoformat() == "2026-08-03T09:00:00+00:00"  # naive: read in the project time zone (UTC)
