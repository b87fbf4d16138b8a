"""Shortcuts of a rebuild: an unchanged site is not published again, unchanged inputs are not read
again, and neither ever keeps a changed file (the site always ends as a cold build makes it)."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from flowsite import cache as cache_mod
from tests.perf.conftest import build_stages as _build
from tests.conftest import run_cli, tree_digest


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


def test_links_to_one_file_are_read_once_per_build_and_again_once_it_changes(tmp_path: Path, cache_dir: Path, monkeypatch):
    """A version's files and its aliases' are links to one inode: hashed once in a build. A change
    (a new size or time on the inode) is hashed again, and a new build forgets what it knew."""
    monkeypatch.setattr(cache_mod, "_memo", cache_mod._DigestMemo())
    real = cache_mod._hash_file
    read: list[str] = []
    monkeypatch.setattr(cache_mod, "_hash_file", lambda p: read.append(os.fspath(p)) or real(p))
    a, b = tmp_path / "v1.json", tmp_path / "latest.json"
    a.write_bytes(b"one")
    os.link(a, b)
    assert cache_mod._file_digest(a) == cache_mod._file_digest(b) == real(a)
    assert read == [os.fspath(a)]
    a.write_bytes(b"two, longer")
    assert cache_mod._file_digest(b) == real(a)
    assert read == [os.fspath(a), os.fspath(b)]
    cache_mod.new_build()
    assert cache_mod._file_digest(a) == real(a)
    assert read == [os.fspath(a), os.fspath(b), os.fspath(a)]


# ---- `flowsite build` with nothing to do answers before the heavy imports ---------------------------------
def _summary(output: str) -> list[str]:
    """The CLI's report without its timing."""
    return [re.sub(r"\(\d+\.\d s\)", "(… s)", line) for line in output.splitlines()]


def test_an_up_to_date_cli_build_does_not_import_polars(sample_project: Path, tmp_path: Path, cache_dir: Path):
    """In a fresh process, `flowsite build` over a site that is what it would publish decides so
    from the config, the cache and the site: neither polars, numpy nor Jinja is imported, and the
    site is left as it is. After a data change, the same command builds as ever."""
    import subprocess
    import sys

    from tests.perf.test_incremental_streams import CATALOG_ITEM, _append

    site = tmp_path / "site"
    command = [sys.executable, "-X", "importtime", "-m", "flowsite", "build", str(sample_project), "--out", str(site)]

    def run() -> tuple[str, set[str]]:
        proc = subprocess.run(command, capture_output=True, text=True, check=True, env={**os.environ, "CI": "1"})
        modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
        return proc.stdout, modules

    cold_out, cold_modules = run()
    assert {"polars", "numpy", "jinja2"} <= cold_modules  # the check can see them
    before, inode = tree_digest(site), site.stat().st_ino
    out, modules = run()
    assert not {"polars", "numpy", "jinja2", "flowsite._build"} & modules, sorted(modules)
    assert _summary(out) == _summary(cold_out)
    assert tree_digest(site) == before and site.stat().st_ino == inode
    _append(sample_project, "work_items.csv", CATALOG_ITEM)
    _, modules = run()
    assert "flowsite._build" in modules and tree_digest(site) != before


def test_the_quick_answer_reports_what_the_whole_path_reports(sample_project: Path, tmp_path: Path, cache_dir: Path, monkeypatch):
    """Warnings, counts, version and aliases: the same lines whether the answer comes before the
    heavy imports or from `_build.build` (which takes it when plugins are installed)."""
    import flowsite._build
    from flowsite import uptodate

    site = tmp_path / "site"
    assert run_cli("build", sample_project, "--out", site, "--alias", "current").exit_code == 0
    real_build = flowsite._build.build

    def no_build(*args, **kwargs):
        raise AssertionError("the whole path ran")

    monkeypatch.setattr(flowsite._build, "build", no_build)
    quick = run_cli("build", sample_project, "--out", site, "--alias", "current")
    monkeypatch.setattr(flowsite._build, "build", real_build)
    monkeypatch.setattr(uptodate, "plugins_installed", lambda: True)
    whole = run_cli("build", sample_project, "--out", site, "--alias", "current")
    assert quick.exit_code == whole.exit_code == 0
    assert "(aliases: current)" in quick.output
    assert _summary(quick.output) == _summary(whole.output)


def test_a_site_changed_since_its_publish_is_built_again_through_the_cli(sample_project: Path, tmp_path: Path, cache_dir: Path):
    """The quick answer needs every entry of the site as the last publish left it: an edited page
    sends the build down the whole path, which restores it."""
    site = tmp_path / "site"
    assert run_cli("build", sample_project, "--out", site).exit_code == 0
    cold = tree_digest(site)
    _same_size_edit(site)
    assert tree_digest(site) != cold
    assert run_cli("build", sample_project, "--out", site).exit_code == 0
    assert tree_digest(site) == cold
