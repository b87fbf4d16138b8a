"""History across releases: the compare page, trends, and restoring earlier versions from an archive or a URL."""
from __future__ import annotations

import copy
import functools
import http.server
import io
import json
import re
import shutil
import tarfile
import threading
from pathlib import Path

import pytest

from flowsite.compare import compare
from flowsite.history import write_archive

from ..conftest import run_cli, tree_digest
from .conftest import sample_copy

VERSIONS = ["2026-9", "2026-10", "2026-11"]


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_compare_page_lists_what_moved_between_builds_from_different_data(three_version_site: Path):
    page = (three_version_site / "2026-11" / "compare" / "index.html").read_text()
    changes = page.split("<caption>Figures that changed")[1].split("</table>")[0]
    rows = [text(r) for r in re.findall(r"<tr>.*?</tr>", changes, re.S)[1:]]
    conv = next(r for r in rows if "Conversion rate" in r)
    assert "Checkout" in conv and "1.9%" in conv and "worse" in conv
    assert re.search(r"on track.*off track", conv)  # status before and now
    assert any("Payment success" in r and "Payments" in r for r in rows)
    assert len(rows) == 2  # nothing else moved: the rest of the data is the same
    assert "2 figures moved, 1 statuses changed" in text(page)
    # The earlier version compares with identical data: nothing moved.
    assert "No figure changed." in (three_version_site / "2026-10" / "compare" / "index.html").read_text()


def test_compare_page_shows_each_figure_across_releases(three_version_site: Path):
    page = (three_version_site / "2026-11" / "compare" / "index.html").read_text()
    assert 'id="history"' in page
    table = page.split('<table class="data history">')[1].split("</table>")[0]
    head = text(table.split("</thead>")[0])
    assert [v for v in VERSIONS if v in head] == VERSIONS
    conv = text(next(r for r in re.findall(r"<tr>.*?</tr>", table, re.S) if "Conversion rate" in r and "Checkout" in r))
    assert re.search(r"2\.6%.*2\.6%.*1\.9%", conv)
    assert '<svg class="spark"' in table
    first = (three_version_site / "2026-9" / "compare" / "index.html").read_text()
    assert 'id="history"' not in first and "first version" in first


def doc(cards: dict[str, list[tuple[str, float | None, str]]], version: str) -> dict:
    return {"metadata": {"version": version}, "scorecards": [
        {"id": vs, "name": vs.title(), "figures": [{"metric": m, "name": m, "unit": "", "value": v, "status": s, "direction": "higher"} for m, v, s in figs]}
        for vs, figs in cards.items()]}


def test_compare_model_finds_new_and_dropped_streams_and_figures():
    a = doc({"web": [("x", 1.0, "on-track"), ("old", 2.0, "on-track")], "gone": [("x", 1.0, "on-track")]}, "1")
    b = doc({"web": [("x", 0.5, "off-track"), ("new", 3.0, "on-track")], "fresh": [("x", 1.0, "on-track")]}, "2")
    c = compare(a, b, [a])
    assert (c.previous, c.new_value_streams, c.dropped_value_streams) == ("1", ["Fresh"], ["Gone"])
    assert c.new_figures == [("Web", "new")] and c.dropped_figures == [("Web", "old")]
    [ch] = c.changes
    assert (ch.delta, ch.pct, ch.better, ch.status_changed) == (-0.5, -50.0, False, True)
    assert c.releases == ["1", "2"] and [p.value for p in c.trends[0].trend] == [1.0, 0.5]
    same = compare(a, copy.deepcopy(a), [a])
    assert same.changes == [] and same.releases == []


def test_history_archive_round_trip_keeps_every_earlier_version_byte_for_byte(three_version_site: Path, tmp_path: Path):
    archive = tmp_path / "site-history.tar.gz"
    write_archive(three_version_site, archive)
    again = tmp_path / "again.tar.gz"
    write_archive(three_version_site, again)
    assert archive.read_bytes() == again.read_bytes()  # reproducible archive
    project = sample_copy(tmp_path / "p")
    out = tmp_path / "fresh" / "site"  # a CI run: empty output folder
    r = run_cli("build", project, "--out", out, "--version", "2026-12", "--history-archive", archive)
    assert r.exit_code == 0, r.output
    assert [v["version"] for v in json.loads((out / "versions.json").read_text())] == ["2026-12", *reversed(VERSIONS)]
    for v in VERSIONS:
        assert tree_digest(out / v) == tree_digest(three_version_site / v)
    assert json.loads((out / "versions.json").read_text())[1]["aliases"] == []  # latest moved to 2026-12
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "2026-12/index.html" in names and "2026-9/index.html" in names  # rewritten after the build
    assert "2026-11" in (out / "2026-12" / "compare" / "index.html").read_text()
    assert not list(out.parent.glob(".flowsite-*"))


def test_an_unsafe_archive_is_refused(tmp_path: Path):
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    project = sample_copy(tmp_path / "p")
    r = run_cli("build", project, "--out", tmp_path / "site", "--history-archive", bad)
    assert r.exit_code == 1 and "history archive" in r.output
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "site").exists()


@pytest.fixture
def served(tmp_path: Path):
    """Serve a folder on 127.0.0.1; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/site/"
    finally:
        server.shutdown()
        server.server_close()


def test_restore_from_the_published_site_url(three_version_site: Path, served, tmp_path: Path):
    www, url = served
    project = sample_copy(tmp_path / "p")
    out = tmp_path / "ci" / "site"
    # Nothing published yet: the build starts a new history.
    r = run_cli("build", project, "--out", out, "--version", "2026-12", "--history-url", url, "-v")
    assert r.exit_code == 0, r.output
    assert [v["version"] for v in json.loads((out / "versions.json").read_text())] == ["2026-12"]
    shutil.rmtree(out)
    shutil.copytree(three_version_site, www / "site")
    r = run_cli("build", project, "--out", out, "--version", "2026-12", "--history-url", url)
    assert r.exit_code == 0, r.output
    for v in VERSIONS:
        assert tree_digest(out / v) == tree_digest(three_version_site / v)
    assert (out / "2026-12" / "manifest.json").is_file()


def test_a_corrupt_download_fails_the_build_and_changes_nothing(three_version_site: Path, served, tmp_path: Path):
    www, url = served
    shutil.copytree(three_version_site, www / "site")
    (www / "site" / "2026-10" / "search.json").write_text("[]\n")  # no longer matches its manifest
    project = sample_copy(tmp_path / "p")
    out = tmp_path / "ci" / "site"
    r = run_cli("build", project, "--out", out, "--version", "2026-12", "--history-url", url)
    assert r.exit_code == 1 and "does not match its manifest checksum" in r.output
    assert not out.exists() and not list(out.parent.glob(".flowsite-*"))
    (www / "site" / "2026-10" / "manifest.json").unlink()
    r = run_cli("build", project, "--out", out, "--version", "2026-12", "--history-url", url)
    assert r.exit_code == 1 and "without manifest.json" in r.output


def test_earlier_documents_are_parsed_once_while_their_files_stay_the_same(tmp_path: Path, monkeypatch):
    """A version's metrics.json is read without its figure list, and parsed again only once its file
    changed (any write changes its stat signature); the cache keeps the most recently used parsed
    ones, and a damaged one is a miss. Each parse is counted."""
    from flowsite import history as history_mod
    from flowsite.history import History

    out = tmp_path / "site"
    doc = {"metadata": {"version": "v1"}, "scorecards": [{"id": "a", "name": "A", "figures": []}], "figures": [{"metric": "m", "value": 1.0}] * 3}
    path = out / "v1" / "data" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    parsed: list[int] = []
    real_loads = json.loads
    monkeypatch.setattr(history_mod.json, "loads", lambda text, *a, **k: parsed.append(1) or real_loads(text, *a, **k))
    memo = tmp_path / "cache" / "documents"

    def read() -> tuple[dict | None, str]:
        h = History(out, memo=memo)
        return h.document("v1"), h.documents_digest()

    first, digest = read()
    assert first == {"metadata": {"version": "v1"}, "scorecards": doc["scorecards"]} and len(parsed) == 1
    assert read() == (first, digest) and len(parsed) == 1  # from the cache
    assert History(out).document("v1") == first and len(parsed) == 2  # no cache: parsed

    monkeypatch.setattr(history_mod, "MEMOS_KEPT", 1)  # the newest kept
    doc["scorecards"][0]["name"] = "B"  # the same size, written in place
    with open(path, "r+", encoding="utf-8") as f:
        f.write(json.dumps(doc))
    second, digest2 = read()
    assert second["scorecards"][0]["name"] == "B" and digest2 != digest and len(parsed) == 3

    assert len(list(memo.glob("*.pickle"))) == 1
    (next(memo.glob("*.pickle"))).write_bytes(b"damaged")
    assert read()[0] == second and len(parsed) == 4  # a damaged memo is a miss
