"""`flowsite versions list|delete|alias|set-default|retitle` on a real three-version output folder."""
from __future__ import annotations

import json
import re
from pathlib import Path

from flowsite.versioning import read_default

from ..conftest import run_cli, tree_digest


def versions_of(out: Path) -> list[dict]:
    return json.loads((out / "versions.json").read_text(encoding="utf-8"))


def under(digest: dict[str, str], folder: str) -> dict[str, str]:
    return {k: v for k, v in digest.items() if k.startswith(folder + "/")}


def test_build_orders_versions_by_period(site: Path):
    assert [v["version"] for v in versions_of(site)] == ["2026-11", "2026-10", "2026-9"]
    assert versions_of(site)[0]["aliases"] == ["latest"]
    r = run_cli("versions", "list", "--out", site)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["2026-11 [latest]  (default)", "2026-10", "2026-9"]
    r = run_cli("versions", "list", "--out", site, "--json")
    assert json.loads(r.output) == versions_of(site)


def test_delete_removes_folder_and_entry_and_leaves_the_rest_byte_for_byte(site: Path):
    before = tree_digest(site)
    r = run_cli("versions", "delete", "--out", site, "2026-10")
    assert r.exit_code == 0, r.output
    assert not (site / "2026-10").exists()
    assert [v["version"] for v in versions_of(site)] == ["2026-11", "2026-9"]
    after = tree_digest(site)
    for folder in ("2026-11", "2026-9", "latest"):
        assert under(after, folder) == under(before, folder)
    assert not under(after, "2026-10")
    assert "2026-10" not in (site / "404.html").read_text() and "2026-10/" not in (site / "sitemap.xml").read_text()
    assert "2026-9/" in (site / "sitemap.xml").read_text()
    assert not list(site.parent.glob(".flowsite-*"))  # no staging left behind


def test_deleting_the_latest_version_moves_latest_so_the_root_still_works(site: Path):
    r = run_cli("versions", "delete", "--out", site, "2026-11")
    assert r.exit_code == 0, r.output
    assert "moved alias latest to 2026-10" in r.output
    assert versions_of(site)[0] == {"version": "2026-10", "title": "2026-10", "aliases": ["latest"]}
    assert tree_digest(site / "latest") == tree_digest(site / "2026-10")
    assert read_default(site) == "latest"


def test_delete_unknown_or_last_version_fails_and_changes_nothing(site: Path):
    before = tree_digest(site)
    r = run_cli("versions", "delete", "--out", site, "2030-01")
    assert r.exit_code == 1 and "no version or alias named '2030-01'" in r.output
    assert tree_digest(site) == before
    r = run_cli("versions", "list", "--out", site.parent / "nothing")
    assert r.exit_code == 1 and "not a flowsite output folder" in r.output


def test_alias_copies_the_folder_and_moves_only_with_update_aliases(site: Path):
    r = run_cli("versions", "alias", "--out", site, "2026-10", "stable")
    assert r.exit_code == 0, r.output
    assert tree_digest(site / "stable") == tree_digest(site / "2026-10")
    r = run_cli("versions", "alias", "--out", site, "2026-11", "stable")
    assert r.exit_code == 1 and "--update-aliases" in r.output
    r = run_cli("versions", "alias", "--out", site, "2026-11", "stable", "--update-aliases")
    assert r.exit_code == 0, r.output
    assert tree_digest(site / "stable") == tree_digest(site / "2026-11")
    assert {v["version"]: v["aliases"] for v in versions_of(site)} == {"2026-11": ["latest", "stable"], "2026-10": [], "2026-9": []}
    r = run_cli("versions", "alias", "--out", site, "2026-11", "bad name")
    assert r.exit_code == 1 and "invalid alias" in r.output
    # Deleting an alias removes only that alias.
    r = run_cli("versions", "delete", "--out", site, "stable")
    assert r.exit_code == 0 and not (site / "stable").exists() and (site / "2026-11").is_dir()


def test_set_default_rewrites_the_redirect_and_a_later_build_keeps_it(site: Path, tmp_path: Path):
    from .conftest import sample_copy

    r = run_cli("versions", "set-default", "--out", site, "2026-10")
    assert r.exit_code == 0, r.output
    html = (site / "index.html").read_text()
    assert re.search(r'http-equiv="refresh" content="0; url=2026-10/index.html"', html)
    assert read_default(site) == "2026-10"
    assert run_cli("versions", "set-default", "--out", site, "nope").exit_code == 1
    project = sample_copy(tmp_path / "p")
    r = run_cli("build", project, "--out", site, "--version", "2026-12")
    assert r.exit_code == 0, r.output
    assert read_default(site) == "2026-10"


def test_retitle_changes_only_versions_json_and_root_pages(site: Path):
    before = tree_digest(site)
    r = run_cli("versions", "retitle", "--out", site, "2026-11", "November 2026")
    assert r.exit_code == 0, r.output
    assert versions_of(site)[0]["title"] == "November 2026"
    after = tree_digest(site)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= {"versions.json", "404.html", "index.html"} and "versions.json" in changed
    assert run_cli("versions", "retitle", "--out", site, "2026-11", "  ").exit_code == 1
    assert run_cli("versions", "retitle", "--out", site, "2027-01", "x").exit_code == 1
