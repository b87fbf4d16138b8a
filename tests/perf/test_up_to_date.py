"""Shortcuts of a rebuild: an unchanged site is not published again, unchanged inputs are not read
again, and neither ever keeps a changed file (the site always ends as a cold build makes it)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from flowsite import cache as cache_mod
from tests.perf.conftest import build_stages as _build
from tests.conftest import tree_digest


def _up_to_date(stages: list[str]) -> bool:
    return any("site is up to date" in s for s in stages)


def _a_page(site: Path) -> Path:
    version = json.loads((site / "versions.json").read_text(encoding="utf-8"))[0]["version"]
    return site / version / "index.html"


def test_nothing_changed_skips_the_publish(sample_project: Path, tmp_path: Path, cache_dir: Path):
    site = tmp_path / "site"
    assert not _up_to_date(_build(sample_project, site))
    cold, inode = tree_digest(site), site.stat().st_ino
    stages = _build(sample_project, site)
    assert _up_to_date(stages)
    assert not any(s.startswith(("metrics", "render")) for s in stages)
    assert site.stat().st_ino == inode  # no staging copy was swapped in
    assert tree_digest(site) == cold
    assert _up_to_date(_build(sample_project, site))


def _same_size_edit(site: Path) -> None:
    page = _a_page(site)
    data = page.read_bytes()
    page.write_bytes(data[:-8] + b"TAMPERED")


def _same_size_edit_mtime_kept(site: Path) -> None:
    page = _a_page(site)
    st = page.stat()
    data = page.read_bytes()
    with open(page, "r+b") as f:  # in place: the same inode, the same size, the mtime set back
        f.write(b"X" * 16)
    assert page.read_bytes() != data
    os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))


def _alias_edit(site: Path) -> None:
    page = site / "latest" / "index.html"
    data = page.read_bytes()
    page.unlink()
    page.write_bytes(data.replace(b"<", b"[", 1))


def _removed(site: Path) -> None:
    _a_page(site).unlink()


def _removed_folder(site: Path) -> None:
    shutil.rmtree(site / "latest" / "data")


def _added(site: Path) -> None:
    (_a_page(site).parent / "extra.html").write_text("<p>not built</p>", encoding="utf-8")


def _added_in_alias(site: Path) -> None:
    (site / "latest" / "data" / "extra.json").write_text("{}", encoding="utf-8")


def _replaced_by_a_copy(site: Path) -> None:
    page = _a_page(site)
    copy = page.with_name("copy.tmp")
    shutil.copy2(page, copy)
    copy.write_bytes(copy.read_bytes()[:-8] + b"TAMPERED")
    os.utime(copy, ns=(page.stat().st_atime_ns, page.stat().st_mtime_ns))
    os.replace(copy, page)


@pytest.mark.parametrize("tamper", [_same_size_edit, _same_size_edit_mtime_kept, _alias_edit, _removed, _removed_folder, _added, _added_in_alias,
                                    _replaced_by_a_copy], ids=lambda f: f.__name__.strip("_"))
def test_a_tampered_published_site_is_restored_by_the_next_build(sample_project: Path, tmp_path: Path, cache_dir: Path, tamper):
    site = tmp_path / "site"
    _build(sample_project, site)
    cold = tree_digest(site)
    tamper(site)
    assert tree_digest(site) != cold
    stages = _build(sample_project, site)
    assert not _up_to_date(stages)
    assert tree_digest(site) == cold
    # The repaired site is recorded again: the next build has nothing to do.
    assert _up_to_date(_build(sample_project, site))
    assert tree_digest(site) == cold


def test_a_tampered_site_with_a_damaged_cache_still_ends_as_a_cold_build(sample_project: Path, tmp_path: Path, cache_dir: Path):
    site = tmp_path / "site"
    _build(sample_project, site)
    cold = tree_digest(site)
    _same_size_edit_mtime_kept(site)
    for p in (cache_dir / "sites").iterdir():
        p.write_bytes(b"\x80\x05not a pickle")
    (cache_dir / "digests.json").write_text("{not json", encoding="utf-8")
    stages = _build(sample_project, site)
    assert not _up_to_date(stages)
    assert tree_digest(site) == cold


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong-shape", "missing"])
def test_a_damaged_digest_memo_costs_only_time(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch, damage):
    monkeypatch.setattr(cache_mod._DigestMemo, "RACY_NS", 0)
    monkeypatch.setattr(cache_mod, "_memo", cache_mod._DigestMemo())
    site = tmp_path / "site"
    _build(sample_project, site)
    memo = cache_dir / "digests.json"
    assert memo.is_file()
    cold = tree_digest(site)
    if damage == "garbage":
        memo.write_bytes(os.urandom(256))
    elif damage == "truncated":
        memo.write_bytes(memo.read_bytes()[:100])
    elif damage == "wrong-shape":
        memo.write_text(json.dumps({"v": 1, "entries": {str(sample_project / "flowsite.yml"): [1, 2]}}), encoding="utf-8")
    else:
        memo.unlink()
    monkeypatch.setattr(cache_mod, "_memo", cache_mod._DigestMemo())  # as a fresh process
    stages = _build(sample_project, site)
    assert any("reusing the previous build" in s for s in stages)
    assert tree_digest(site) == cold


def test_the_digest_memo_notices_an_input_changed_with_its_size_and_mtime_kept(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    monkeypatch.setattr(cache_mod._DigestMemo, "RACY_NS", 0)
    monkeypatch.setattr(cache_mod, "_memo", cache_mod._DigestMemo())
    site = tmp_path / "site"
    _build(sample_project, site)
    data = sample_project / "data" / "work_items.csv"
    assert str(data) in json.loads((cache_dir / "digests.json").read_text(encoding="utf-8"))["entries"]
    st = data.stat()
    text = data.read_text(encoding="utf-8")
    edited = text.replace(",3\n", ",5\n", 1)
    assert edited != text
    data.write_text(edited, encoding="utf-8")
    assert data.stat().st_size == st.st_size
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    monkeypatch.setattr(cache_mod, "_memo", cache_mod._DigestMemo())
    stages = _build(sample_project, site)
    assert not any("reusing the previous build" in s for s in stages)
    cold_site = tmp_path / "cold"
    _build(sample_project, cold_site, cache=False)
    assert tree_digest(site) == tree_digest(cold_site)
