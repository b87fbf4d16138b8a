"""Killed and concurrent builds: the output folder is always a whole old site or a whole new one.

Builds run as real `python -m flowsite build` subprocesses. FLOWSITE_TEST_PAUSE_AT=<stage> (see
flowsite/publish.py) makes a build print "paused at <stage>" and sleep there, so the test can
SIGKILL it at that exact point, or let it go on with SIGUSR1.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowsite.publish import OLD_PREFIX, STAGING_PREFIX, recover, transaction, write_bytes
from tests.bad_inputs.tiny import write_tiny
from tests.conftest import REPO, run_cli, tree_digest

EPOCH = "1790000000"  # fixed SOURCE_DATE_EPOCH: same inputs, same bytes


class Build:
    """A `flowsite build` subprocess whose stderr we can wait on."""

    def __init__(self, project: Path, out: Path, *args: str, pause_at: str | None = None, pause_seconds: float = 60, env: dict | None = None):
        e = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, "PYTHONPATH": str(REPO), **(env or {})}
        e.pop("FLOWSITE_TEST_PAUSE_AT", None)
        if pause_at:
            e["FLOWSITE_TEST_PAUSE_AT"] = pause_at
            e["FLOWSITE_TEST_PAUSE_SECONDS"] = str(pause_seconds)
        self.proc = subprocess.Popen([sys.executable, "-m", "flowsite", "build", str(project), "--out", str(out), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, cwd=str(project.parent))
        self.err = ""

    def wait_for(self, marker: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stderr.fileno()
        while marker not in self.err:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and not select.select([fd], [], [], 0)[0]:
                raise AssertionError(f"build never printed {marker!r}; exit {self.proc.poll()}; stderr:\n{self.err}")
            if select.select([fd], [], [], min(left, 0.5))[0]:
                chunk = os.read(fd, 65536).decode(errors="replace")
                if not chunk and self.proc.poll() is not None:
                    continue
                self.err += chunk

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        out, err = self.proc.communicate(timeout=timeout)
        self.err += err.decode(errors="replace")
        return self.proc.returncode, out.decode(errors="replace") + self.err

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith((STAGING_PREFIX, OLD_PREFIX)))


def versions(site: Path) -> list[str]:
    return [v["version"] for v in json.loads((site / "versions.json").read_text())]


def assert_whole_site(site: Path) -> None:
    """Every version listed has its folder with pages, and every version folder is listed."""
    listed = versions(site)
    folders = sorted(p.name for p in site.iterdir() if p.is_dir() and (p / "index.html").is_file() and p.name != "latest")
    assert sorted(listed) == folders
    for v in listed:
        assert (site / v / "data" / "metrics.json").is_file() and (site / v / "value-streams" / "shop" / "index.html").is_file()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny project, a site with version 2026-09, and the same site plus 2026-10 built undisturbed."""
    root = tmp_path_factory.mktemp("crash")
    project = write_tiny(root / "project")
    env = {"SOURCE_DATE_EPOCH": EPOCH}
    old_env = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        assert run_cli("build", project, "--out", root / "old", "--version", "2026-09").exit_code == 0
        assert run_cli("build", project, "--out", root / "new", "--version", "2026-09").exit_code == 0
        r = run_cli("build", project, "--out", root / "new", "--version", "2026-10")
        assert r.exit_code == 0, r.output
    finally:
        for k, v in old_env.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return project, root / "old", root / "new"


def same_site(a: Path, b: Path) -> bool:
    """Same files, same versions.json, and byte-identical version folders that neither build rewrote.

    (Not whole-tree bytes: `a` may come from a subprocess and `b` from this process, and the page
    text is compared elsewhere; what matters here is that nothing is missing, extra or mixed.)
    """
    da, db = tree_digest(a), tree_digest(b)
    untouched = [k for k in da if k.startswith("2026-09/")]
    return sorted(da) == sorted(db) and da["versions.json"] == db["versions.json"] and all(da[k] == db[k] for k in untouched)


def copy_site(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("stage", ["staged", "written", "swapped"])
def test_sigkill_at_each_stage_leaves_a_whole_site_and_the_next_build_works(stage: str, built, tmp_path: Path):
    project, old, new = built
    site = copy_site(old, tmp_path / "site")
    before = tree_digest(site)

    b = Build(project, site, "--version", "2026-10", pause_at=stage)
    b.wait_for(f"paused at {stage}")
    b.kill()

    after = tree_digest(site)
    if stage == "swapped":
        # The swap is one rename: what is there is the complete new site, never a mix.
        assert same_site(site, new)
    else:
        assert after == before
    assert_whole_site(site)

    r = run_cli("build", project, "--out", site, "--version", "2026-10")
    assert r.exit_code == 0, r.output
    assert versions(site) == ["2026-10", "2026-09"]
    assert_whole_site(site)
    assert leftovers(tmp_path) == [], "the next build clears what the killed one left"


def test_sigkill_while_waiting_for_the_lock_changes_nothing(built, tmp_path: Path):
    project, old, _ = built
    site = copy_site(old, tmp_path / "site")
    before = tree_digest(site)
    holder = Build(project, site, "--version", "2026-10", pause_at="staged")
    holder.wait_for("paused at staged")
    waiter = Build(project, site, "--version", "2026-11", pause_at="waiting", pause_seconds=0)
    waiter.wait_for("paused at waiting")
    waiter.kill()
    holder.kill()
    assert tree_digest(site) == before


def test_half_done_fallback_swap_is_undone(tmp_path: Path):
    """Without renameat2 the swap is two renames; killed between them, OUT is briefly missing.
    The next transaction puts the previous site back before it does anything else."""
    out = tmp_path / "site"
    write_bytes(out / "v1" / "index.html", b"old")
    before = tree_digest(out)
    old = tmp_path / f"{OLD_PREFIX}site-4242"
    staging = tmp_path / f"{STAGING_PREFIX}site-4243"
    write_bytes(staging / "v2" / "index.html", b"half-written")
    out.rename(old)  # the state a kill between `rename(out, old)` and `rename(staging, out)` leaves

    recover(out)
    assert tree_digest(out) == before and leftovers(tmp_path) == []

    out.rename(old)
    with transaction(out) as st:  # a real next build does the same through transaction()
        write_bytes(st / "v2" / "index.html", b"new")
    assert tree_digest(out) == {**before, "v2/index.html": tree_digest(out)["v2/index.html"]}
    assert (out / "v2" / "index.html").read_bytes() == b"new" and leftovers(tmp_path) == []


def test_a_failing_build_leaves_no_staging_folder(tmp_path: Path):
    out = tmp_path / "site"
    write_bytes(out / "a.txt", b"a")
    with pytest.raises(RuntimeError):
        with transaction(out) as st:
            write_bytes(st / "b.txt", b"b")
            raise RuntimeError("boom")
    assert tree_digest(out) == {"a.txt": tree_digest(out)["a.txt"]} and leftovers(tmp_path) == []


def test_second_build_of_the_same_version_waits_then_succeeds(built, tmp_path: Path):
    project, old, _ = built
    site = copy_site(old, tmp_path / "site")
    first = Build(project, site, "--version", "2026-09", pause_at="written")
    first.wait_for("paused at written")
    second = Build(project, site, "--version", "2026-09", pause_at="waiting", pause_seconds=0)
    second.wait_for("paused at waiting")  # it found the lock taken and is waiting
    first.proc.send_signal(signal.SIGUSR1)  # let the first one publish
    assert first.finish()[0] == 0
    code, output = second.finish()
    assert code == 0, output
    assert sorted(tree_digest(site)) == sorted(tree_digest(old))
    assert leftovers(tmp_path) == []


def test_concurrent_builds_of_different_versions_never_mix(built, tmp_path: Path):
    """The second build read versions.json before the first published: it must fail, not drop 2026-10."""
    project, old, new = built
    site = copy_site(old, tmp_path / "site")
    first = Build(project, site, "--version", "2026-10", pause_at="written")
    first.wait_for("paused at written")
    second = Build(project, site, "--version", "2026-11", "--no-alias", pause_at="waiting", pause_seconds=0)
    second.wait_for("paused at waiting")
    first.proc.send_signal(signal.SIGUSR1)
    assert first.finish()[0] == 0
    code, output = second.finish()
    assert code == 1, output
    assert "another build published to this output folder while this one was running (versions.json changed); nothing was written" in output
    assert "hint: run the build again" in output
    assert same_site(site, new)
    assert_whole_site(site)
    r = run_cli("build", project, "--out", site, "--version", "2026-11", "--no-alias")
    assert r.exit_code == 0, r.output
    assert versions(site) == ["2026-11", "2026-10", "2026-09"]
    assert_whole_site(site)


def test_lock_timeout_is_a_clear_error(built, tmp_path: Path):
    project, old, _ = built
    site = copy_site(old, tmp_path / "site")
    before = tree_digest(site)
    holder = Build(project, site, "--version", "2026-10", pause_at="staged")
    holder.wait_for("paused at staged")
    try:
        code, output = Build(project, site, "--version", "2026-10", env={"FLOWSITE_LOCK_WAIT": "0.5"}).finish()
    finally:
        holder.kill()
    assert code == 1, output
    assert "site: another flowsite build is writing this output folder (waited 0.5 s)" in output
    assert "hint: wait for it to finish, or build into another --out" in output
    assert tree_digest(site) == before


def test_a_rebuild_keeps_the_replaced_site_beside_it_and_the_next_starts_from_it(tmp_path: Path, monkeypatch):
    """Through the real entry point: the first build replaces nothing and keeps nothing; each later
    one keeps the site it replaced as a linked copy of the new one (`.site.flowsite.base`), which
    the next build stages in. The sites are the same as ones built without any kept copy."""
    import shutil

    from flowsite.publish import base_path, same_tree

    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    project = write_tiny(tmp_path / "project")
    site, plain = tmp_path / "site", tmp_path / "plain"
    base = base_path(site)
    assert run_cli("build", project, "--out", site, "--version", "2026-09").exit_code == 0
    assert not base.exists()
    for version in ("2026-10", "2026-11"):
        r = run_cli("build", project, "--out", site, "--version", version)
        assert r.exit_code == 0, r.output
        assert base.is_dir() and same_tree(site, base) and same_tree(base, site)
        assert leftovers(tmp_path) == []
    for version in ("2026-09", "2026-10", "2026-11"):
        assert run_cli("build", project, "--out", plain, "--version", version).exit_code == 0
        shutil.rmtree(base_path(plain), ignore_errors=True)  # each build links afresh
    assert tree_digest(site) == tree_digest(plain)
    assert_whole_site(site)
