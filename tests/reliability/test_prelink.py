"""The linked copy of OUT made while a build renders (`Prelink`) and the publishing steps around it.

`same_tree` decides whether a prelinked copy may still stand in for OUT: same names, every file the
same inode, folders recursively. `transaction(prelink=...)` uses the copy as its staging folder only
when it still matches OUT under the lock, and otherwise links afresh; `meanwhile` runs after the swap
while the replaced site is removed, then `after`. `recover(out, keep=...)` clears stale folders.
All on real files in tmp_path; the copies are made by real child processes.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowsite.errors import BuildError
from flowsite.publish import (OLD_PREFIX, PRELINK_PREFIX, STAGING_PREFIX, Prelink, base_path, link_tree, recover, remove_tree, same_tree,
                              transaction, tree_stat, write_bytes)
from tests.conftest import tree_digest

SITE = {
    "index.html": b"root v1",
    "versions.json": b"[\"v1\"]",
    "v1/index.html": b"v1 page",
    "v1/data/metrics.json": b"{\"a\": 1}",
    "v1/deep/er/leaf.txt": b"leaf",
    "latest/index.html": b"v1 page",
}


MARK = 1_000_000_000_123_456_789  # an mtime (ns) that tags a prelinked copy's folders


def make_site(out: Path, files: dict[str, bytes] = SITE) -> Path:
    for rel, data in files.items():
        write_bytes(out / rel, data)
    return out


def beside(folder: Path) -> list[str]:
    """The staging, old and prelink folders in FOLDER (there should be none once a build is done)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith((STAGING_PREFIX, OLD_PREFIX, PRELINK_PREFIX)))


def contents(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def inodes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_ino for p in sorted(root.rglob("*")) if p.is_file()}


# --- same_tree ---------------------------------------------------------------------------------------


def test_same_tree_is_true_for_a_linked_copy(tmp_path: Path):
    """A `link_tree` copy matches its source, both ways round, and every file shares its inode."""
    out = make_site(tmp_path / "site")
    copy = tmp_path / "copy"
    link_tree(out, copy)
    assert same_tree(out, copy) and same_tree(copy, out)
    assert inodes(copy) == inodes(out)


def _add_file(out: Path) -> None:
    write_bytes(out / "v1" / "deep" / "new.txt", b"new")


def _remove_file(out: Path) -> None:
    (out / "v1" / "deep" / "er" / "leaf.txt").unlink()


def _replace_same_bytes(out: Path) -> None:
    write_bytes(out / "v1" / "data" / "metrics.json", (out / "v1" / "data" / "metrics.json").read_bytes())  # unlinks: new inode


def _folder_to_file(out: Path) -> None:
    remove_tree(out / "v1" / "deep")
    write_bytes(out / "v1" / "deep", b"now a file")


def _file_to_folder(out: Path) -> None:
    (out / "versions.json").unlink()
    write_bytes(out / "versions.json" / "inside", b"now a folder")


def _empty_folder_added(out: Path) -> None:
    (out / "v1" / "empty").mkdir()


CHANGES = {"file added": _add_file, "file removed": _remove_file, "file replaced by same bytes": _replace_same_bytes,
           "folder replaced by a file": _folder_to_file, "file replaced by a folder": _file_to_folder,
           "empty folder added": _empty_folder_added}


@pytest.mark.parametrize("change", list(CHANGES))
def test_same_tree_is_false_once_out_changes(change: str, tmp_path: Path):
    """Any change of names or inodes in OUT after the copy was made makes the copy unusable."""
    out = make_site(tmp_path / "site")
    copy = tmp_path / "copy"
    link_tree(out, copy)
    assert same_tree(out, copy)
    CHANGES[change](out)
    assert not same_tree(out, copy)
    assert not same_tree(copy, out)


def test_replacing_a_file_with_the_same_bytes_gives_a_new_inode(tmp_path: Path):
    """Guard for the test above: bytes are not what same_tree compares, the inode is."""
    out = make_site(tmp_path / "site")
    copy = tmp_path / "copy"
    link_tree(out, copy)
    _replace_same_bytes(out)
    assert contents(copy) == contents(out)
    assert inodes(copy)["v1/data/metrics.json"] != inodes(out)["v1/data/metrics.json"]


def test_in_place_write_keeps_same_tree_true_and_shows_in_the_copy(tmp_path: Path):
    """Writing into a file of OUT (same inode) keeps the copy valid: it sees the new bytes through the link."""
    out = make_site(tmp_path / "site")
    copy = tmp_path / "copy"
    link_tree(out, copy)
    with open(out / "v1" / "index.html", "r+b") as f:
        f.truncate(0)
        f.write(b"rewritten in place")
    assert same_tree(out, copy)
    assert (copy / "v1" / "index.html").read_bytes() == b"rewritten in place"
    assert contents(copy) == contents(out)


def test_tree_stat_gives_every_link_of_a_file_its_inodes_signature(tmp_path: Path):
    """The alias folder's links share their version's signatures (looked up once per inode); a copy,
    a file written since and a symbolic link each have their own, as os.lstat gives them."""
    out = make_site(tmp_path / "site")
    remove_tree(out / "latest")
    link_tree(out / "v1", out / "latest")
    write_bytes(out / "latest" / "copy.txt", b"leaf")
    os.symlink("index.html", out / "v1" / "link.html")
    with open(out / "v1" / "deep" / "er" / "leaf.txt", "ab") as f:
        f.write(b" grown")  # through one link: both show it
    sigs = tree_stat(out)
    for rel, sig in sigs.items():
        if sig != ("dir",):
            st = os.lstat(out / rel)
            assert sig == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode), rel
    assert sigs["latest/deep/er/leaf.txt"] == sigs["v1/deep/er/leaf.txt"] and sigs["v1/deep/er/leaf.txt"][0] == len(b"leaf grown")
    assert sigs["latest/copy.txt"][3] != sigs["v1/deep/er/leaf.txt"][3]
    assert sigs["latest/deep"] == ("dir",) and "latest/link.html" not in sigs and sigs["v1/link.html"][4] & 0o170000 == 0o120000


def test_same_tree_is_false_when_a_side_is_missing(tmp_path: Path):
    """A copy that was never made (or was removed) does not match; no exception escapes."""
    out = make_site(tmp_path / "site")
    assert not same_tree(out, tmp_path / "nothing-here")
    assert not same_tree(tmp_path / "nothing-here", out)


NAMES = st.text(alphabet="abcxyz019_-", min_size=1, max_size=6)
TREES = st.dictionaries(NAMES, st.recursive(st.binary(max_size=24), lambda kids: st.dictionaries(NAMES, kids, max_size=4), max_leaves=12),
                        min_size=1, max_size=5)


def _write_tree(root: Path, tree: dict) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, node in tree.items():
        if isinstance(node, dict):
            _write_tree(root / name, node)
        else:
            (root / name).write_bytes(node)


def _entries(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for name, node in tree.items():
        out.append(prefix + name)
        if isinstance(node, dict):
            out += _entries(node, prefix + name + "/")
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=TREES, data=st.data())
def test_same_tree_property_linked_copy_then_one_entry_deleted(tree: dict, data, tmp_path_factory):
    """For random nested trees: the linked copy matches; deleting any one entry of A (file or folder,
    at any depth) makes it not match."""
    base = tmp_path_factory.mktemp("tree")
    a, b = base / "a", base / "b"
    _write_tree(a, tree)
    link_tree(a, b)
    assert same_tree(a, b) and contents(a) == contents(b)
    victim = data.draw(st.sampled_from(_entries(tree)), label="deleted")
    remove_tree(a / victim)
    assert not same_tree(a, b)
    shutil.rmtree(base)


# --- Prelink and transaction -------------------------------------------------------------------------


def test_transaction_uses_the_prelinked_copy_as_staging(tmp_path: Path):
    """The copy the child made becomes the staging folder itself (same folder inode, renamed away
    from its prelink name); its files are hard links of OUT's; the result is published whole and
    nothing is left beside OUT."""
    out = make_site(tmp_path / "site")
    before = inodes(out)
    p = Prelink(out)
    assert p.proc is not None and p.proc.wait() == 0
    assert p.path.parent == out.resolve().parent and p.path.name.startswith(f"{PRELINK_PREFIX}site-")
    # Mark the copy's folders with a time no fresh copy could have (same_tree does not look at it).
    for d in (p.path, p.path / "v1" / "deep"):
        os.utime(d, ns=(MARK, MARK))
    copy_folder = os.stat(p.path).st_ino
    with transaction(out, prelink=p) as staging:
        # The prelinked copy itself, not one linked afresh:
        assert os.stat(staging).st_ino == copy_folder
        assert os.stat(staging).st_mtime_ns == MARK and os.stat(staging / "v1" / "deep").st_mtime_ns == MARK
        assert not p.path.exists()
        assert staging.name.startswith(STAGING_PREFIX)
        assert inodes(staging) == before  # hard links of the published files
        assert inodes(out) == before
        write_bytes(staging / "v2" / "index.html", b"v2 page")
        write_bytes(staging / "index.html", b"root v2")
    assert contents(out) == {**SITE, "v2/index.html": b"v2 page", "index.html": b"root v2"}
    kept = {rel: ino for rel, ino in inodes(out).items() if rel in SITE and rel != "index.html"}
    assert kept == {rel: ino for rel, ino in before.items() if rel != "index.html"}  # unchanged files were never copied
    assert beside(tmp_path) == []


def test_transaction_waits_for_a_prelink_still_running(tmp_path: Path):
    """Taken right after it started (the child may still be linking), the copy is waited for and
    then complete: every one of many files is a hard link of OUT's."""
    files = {f"v1/p{i // 50}/f{i}.html": f"page {i}".encode() for i in range(400)}
    out = make_site(tmp_path / "site", files)
    before = inodes(out)
    p = Prelink(out)
    with transaction(out, prelink=p) as staging:
        assert inodes(staging) == before
        write_bytes(staging / "v2" / "index.html", b"v2")
    assert contents(out) == {**files, "v2/index.html": b"v2"}
    assert beside(tmp_path) == []


def _copy_gains_a_file(out: Path, copy: Path) -> None:
    write_bytes(copy / "stale-marker.txt", b"only in the copy")


STALE = {
    "file added to OUT": lambda out, copy: write_bytes(out / "v1" / "added.txt", b"added after the copy"),
    "file of OUT replaced": lambda out, copy: write_bytes(out / "v1" / "index.html", b"replaced after the copy"),
    "file of OUT removed": lambda out, copy: (out / "v1" / "deep" / "er" / "leaf.txt").unlink(),
    "folder of OUT replaced by a file": lambda out, copy: (remove_tree(out / "latest"), write_bytes(out / "latest", b"a file now")),
    "copy has an extra file": _copy_gains_a_file,
}


@pytest.mark.parametrize("change", list(STALE))
def test_a_stale_prelink_is_not_used(change: str, tmp_path: Path):
    """OUT changed after the child finished its copy: the transaction links afresh, so the published
    site is OUT's current files plus what the transaction wrote, and nothing is left beside OUT."""
    out = make_site(tmp_path / "site")
    p = Prelink(out)
    assert p.proc is not None and p.proc.wait() == 0
    os.utime(p.path, ns=(MARK, MARK))
    STALE[change](out, p.path)
    current = contents(out)
    current_inodes = inodes(out)
    with transaction(out, prelink=p) as staging:
        assert not p.path.exists()  # the stale copy was dropped
        assert os.stat(staging).st_mtime_ns != MARK  # and not used
        assert contents(staging) == current
        assert inodes(staging) == current_inodes  # linked afresh from OUT as it is now
        write_bytes(staging / "v2" / "index.html", b"v2 page")
    assert contents(out) == {**current, "v2/index.html": b"v2 page"}
    assert "stale-marker.txt" not in contents(out)
    assert beside(tmp_path) == []


def test_a_prelink_that_is_not_a_folder_is_not_used(tmp_path: Path):
    """Something other than the copy at the prelink path (here a file) is dropped, without an
    error, and the transaction links afresh."""
    out = make_site(tmp_path / "site")
    p = Prelink(out)
    assert p.proc is not None
    p.proc.wait()
    remove_tree(p.path)
    write_bytes(p.path, b"a file where the copy should be")  # same_tree cannot match a file
    with transaction(out, prelink=p) as staging:
        assert inodes(staging) == inodes(out)
        write_bytes(staging / "new.txt", b"new")
    assert contents(out) == {**SITE, "new.txt": b"new"}
    assert beside(tmp_path) == []


def test_discard_removes_the_copy_and_can_be_called_twice(tmp_path: Path):
    """discard() after the child finished removes the copy; a second call is harmless; take() after
    discard reports that there is no copy."""
    out = make_site(tmp_path / "site")
    p = Prelink(out)
    assert p.proc is not None and p.proc.wait() == 0
    assert p.path.is_dir() and contents(p.path) == SITE
    p.discard()
    assert not p.path.exists() and p.proc is None
    p.discard()
    assert not p.path.exists()
    assert p.take(tmp_path / "staging") is False and not (tmp_path / "staging").exists()
    assert contents(out) == SITE and beside(tmp_path) == []


def test_discard_while_the_child_is_still_linking(tmp_path: Path):
    """discard() right after the start stops the child and leaves no copy, however far it got."""
    out = make_site(tmp_path / "site", {f"d{i // 40}/f{i}": b"x" for i in range(400)})
    p = Prelink(out)
    p.discard()
    p.discard()
    assert not p.path.exists() and beside(tmp_path) == []
    assert len(contents(out)) == 400


def _build_like(out: Path, p: Prelink, body, **kw) -> None:
    """What flowsite's build does: a failure anywhere after the prelink started discards it."""
    try:
        with transaction(out, prelink=p, **kw) as staging:
            body(staging)
    except BaseException:
        p.discard()
        raise


def test_a_failing_build_with_a_prelink_leaves_out_as_it_was(tmp_path: Path):
    """The build raises while writing into the (prelinked) staging folder: OUT is byte-for-byte and
    inode-for-inode as before, and no prelink or staging folder is left."""
    out = make_site(tmp_path / "site")
    before, before_inodes = contents(out), inodes(out)
    p = Prelink(out)

    def body(staging: Path) -> None:
        write_bytes(staging / "v1" / "index.html", b"half written")
        write_bytes(staging / "v2" / "index.html", b"v2")
        remove_tree(staging / "latest")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        _build_like(out, p, body)
    assert contents(out) == before and inodes(out) == before_inodes
    assert beside(tmp_path) == []


def test_a_build_refused_before_staging_leaves_no_prelink(tmp_path: Path):
    """`expect` finds that another build published meanwhile: the transaction fails before it takes
    the copy; the build's discard() still leaves nothing behind and OUT untouched."""
    out = make_site(tmp_path / "site")
    before = contents(out)
    p = Prelink(out)
    with pytest.raises(BuildError):
        _build_like(out, p, lambda staging: pytest.fail("must not get a staging folder"), expect={"index.html": b"something else"})
    assert contents(out) == before and beside(tmp_path) == []


# --- meanwhile and after -----------------------------------------------------------------------------


def test_meanwhile_runs_after_the_swap_and_before_after(tmp_path: Path):
    """meanwhile sees the new site in OUT; after runs next and by then the replaced site is gone;
    the files shared with the replaced site keep their bytes."""
    out = make_site(tmp_path / "site")
    events: list[tuple] = []

    def meanwhile() -> None:
        events.append(("meanwhile", contents(out)))

    def after() -> None:
        events.append(("after", contents(out), beside(tmp_path)))

    p = Prelink(out)
    with transaction(out, prelink=p, meanwhile=meanwhile, after=after) as staging:
        write_bytes(staging / "v2" / "index.html", b"v2 page")
        (staging / "v1" / "deep" / "er" / "leaf.txt").unlink()
        assert events == []
    new = {**{k: v for k, v in SITE.items() if k != "v1/deep/er/leaf.txt"}, "v2/index.html": b"v2 page"}
    assert [e[0] for e in events] == ["meanwhile", "after"]
    assert events[0][1] == new  # already published when meanwhile ran
    assert events[1][1] == new and events[1][2] == []  # replaced site removed before after
    assert contents(out) == new and beside(tmp_path) == []


def test_the_replaced_site_is_removed_while_meanwhile_runs(tmp_path: Path):
    """The removal of the replaced site runs beside meanwhile (in child processes), not after it:
    meanwhile can watch the replaced folder's contents disappear (the folder itself goes once the
    children are done)."""
    out = make_site(tmp_path / "site", {f"d{i // 50}/f{i}": b"x" for i in range(300)})
    seen: list[list[str]] = []

    def left() -> list[str]:
        return [name for replaced in beside(tmp_path) for name in os.listdir(tmp_path / replaced)]

    def meanwhile() -> None:
        seen.append(beside(tmp_path))  # the replaced site, still there or already on its way out
        deadline = time.monotonic() + 10
        while left() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(left())

    with transaction(out, prelink=Prelink(out), meanwhile=meanwhile) as staging:
        write_bytes(staging / "new.txt", b"new")
    assert len(seen[0]) == 1 and seen[-1] == []  # emptied while meanwhile was still running
    assert len(contents(out)) == 301 and beside(tmp_path) == []


def test_meanwhile_error_is_raised_after_after_ran(tmp_path: Path):
    """meanwhile raises: after still runs, the error propagates, the new site stays published and
    the replaced site is removed."""
    out = make_site(tmp_path / "site")
    order: list[str] = []

    def meanwhile() -> None:
        order.append("meanwhile")
        raise ValueError("meanwhile failed")

    def after() -> None:
        order.append("after")

    with pytest.raises(ValueError, match="meanwhile failed"):
        with transaction(out, prelink=Prelink(out), meanwhile=meanwhile, after=after) as staging:
            write_bytes(staging / "index.html", b"root v2")
    assert order == ["meanwhile", "after"]
    assert contents(out) == {**SITE, "index.html": b"root v2"}
    assert beside(tmp_path) == []


def test_after_error_is_ignored_and_meanwhile_error_still_wins(tmp_path: Path):
    """An error in after is swallowed (the site is published); one from meanwhile is still raised."""
    out = make_site(tmp_path / "site")

    def boom() -> None:
        raise KeyError("after failed")

    with transaction(out, after=boom, meanwhile=lambda: None) as staging:
        write_bytes(staging / "a.txt", b"a")
    assert contents(out) == {**SITE, "a.txt": b"a"}

    def bad() -> None:
        raise ValueError("meanwhile failed")

    with pytest.raises(ValueError, match="meanwhile failed"):
        with transaction(out, after=boom, meanwhile=bad) as staging:
            write_bytes(staging / "b.txt", b"b")
    assert contents(out) == {**SITE, "a.txt": b"a", "b.txt": b"b"}
    assert beside(tmp_path) == []


def test_meanwhile_runs_and_raises_for_a_first_build_too(tmp_path: Path):
    """With no previous site to remove, meanwhile still runs after the site is in place, and its
    error still comes after after."""
    out = tmp_path / "site"
    order: list[str] = []

    def meanwhile() -> None:
        order.append("meanwhile" if (out / "index.html").is_file() else "meanwhile-too-early")
        raise ValueError("first")

    with pytest.raises(ValueError, match="first"):
        with transaction(out, meanwhile=meanwhile, after=lambda: order.append("after")) as staging:
            write_bytes(staging / "index.html", b"first")
    assert order == ["meanwhile", "after"]
    assert contents(out) == {"index.html": b"first"} and beside(tmp_path) == []


# --- recover -----------------------------------------------------------------------------------------


def test_recover_removes_stale_prelinks_but_keeps_the_one_named(tmp_path: Path):
    """Prelink, staging and old folders left by dead builds go; the folder passed as keep stays
    with its contents; OUT itself is untouched."""
    out = make_site(tmp_path / "site")
    stale = [tmp_path / f"{PRELINK_PREFIX}site-123", tmp_path / f"{PRELINK_PREFIX}site-124",
             tmp_path / f"{STAGING_PREFIX}site-125", tmp_path / f"{OLD_PREFIX}site-126"]
    for s in stale:
        link_tree(out, s)
    keep = tmp_path / f"{PRELINK_PREFIX}site-777"
    link_tree(out, keep)
    recover(out, keep=keep)
    assert beside(tmp_path) == [keep.name]
    assert same_tree(out, keep) and contents(out) == SITE
    recover(out)
    assert beside(tmp_path) == [] and contents(out) == SITE


def test_recover_leaves_the_folders_of_a_sibling_output_alone(tmp_path: Path):
    """OUT 'site' and another output 'site-2' in the same parent have separate locks: recovering
    'site' must not touch the prelink/staging folders a running build of 'site-2' is using."""
    out = make_site(tmp_path / "site")
    theirs = [tmp_path / f"{PRELINK_PREFIX}site-2-999", tmp_path / f"{STAGING_PREFIX}site-2-999"]
    for s in theirs:
        write_bytes(s / "index.html", b"another output's build")
    recover(out)
    assert beside(tmp_path) == sorted(s.name for s in theirs)


def test_recover_does_not_take_a_sibling_outputs_old_folder_for_its_own(tmp_path: Path):
    """With OUT missing, only OUT's own old folder is put back, never that of 'site-2'."""
    theirs = tmp_path / f"{OLD_PREFIX}site-2-998"
    write_bytes(theirs / "x", b"another output's previous site")
    recover(tmp_path / "site")
    assert not (tmp_path / "site").exists() and (theirs / "x").read_bytes() == b"another output's previous site"


@pytest.mark.parametrize("tools", ["rm", "python"])
def test_the_replaced_site_is_removed_whole_by_removals_side_by_side(tools: str, tmp_path: Path, monkeypatch):
    """After the swap the replaced site's folders are removed by two children at once (`rm`, or
    Python where there is no `rm`), its root once they are done; `meanwhile` runs during that and
    `after` once nothing of it is left."""
    import flowsite.publish as publish

    if tools == "python":
        monkeypatch.setattr(publish.shutil, "which", lambda name: None)
    many = {**SITE, **{f"v{i}/page-{j}.html": b"x" for i in range(2, 6) for j in range(20)}}
    out = make_site(tmp_path / "site", many)
    seen: dict[str, list[str]] = {}
    started: list = []
    real_job = publish._tree_job
    monkeypatch.setattr(publish, "_tree_job", lambda job, *paths: started.append((job, paths)) or real_job(job, *paths))
    with transaction(out, meanwhile=lambda: seen.setdefault("meanwhile", beside(tmp_path)), after=lambda: seen.setdefault("after", beside(tmp_path))) as staging:
        remove_tree(staging / "v3")
        write_bytes(staging / "index.html", b"root v2")
    removals = [paths for job, paths in started if job == "remove_tree"]
    assert len(removals) == 2 and sorted(p.name for paths in removals for p in paths) == ["latest", "v1", "v2", "v3", "v4", "v5"]
    assert len(seen["meanwhile"]) == 1 and seen["after"] == [] and beside(tmp_path) == []
    assert contents(out) == {k: v for k, v in {**many, "index.html": b"root v2"}.items() if not k.startswith("v3/")}


# --- the replaced site kept as the next build's starting point (keep_base) ----------------------------


def _keep_once(out: Path, files: dict[str, bytes], gone: tuple[str, ...] = ()) -> None:
    """One build-like transaction that writes FILES, removes GONE and keeps the replaced site."""
    with transaction(out, prelink=Prelink(out), meanwhile=lambda: None, keep_base=True) as staging:
        for rel in gone:
            (staging / rel).unlink()
        for rel, data in files.items():
            write_bytes(staging / rel, data)


def test_keep_base_leaves_a_linked_copy_of_the_new_site_beside_it(tmp_path: Path):
    """The replaced site becomes a linked copy of the new one: the changed file relinked, the
    removed one gone, the rest untouched; no staging, old or prelink folder is left."""
    out = make_site(tmp_path / "site")
    _keep_once(out, {"v1/index.html": b"v1 page, new", "v1/added.txt": b"added"}, gone=("v1/deep/er/leaf.txt",))
    base = base_path(out)
    assert base.name == ".site.flowsite.base" and base.parent == tmp_path
    assert same_tree(out, base) and inodes(base) == inodes(out)
    assert contents(out)["v1/index.html"] == b"v1 page, new" and "v1/deep/er/leaf.txt" not in contents(out)
    assert beside(tmp_path) == []


def test_the_next_transaction_starts_from_the_kept_copy(tmp_path: Path):
    """A Prelink finds the kept copy and makes none of its own; the transaction stages in it (its
    files are OUT's, by inode) and keeps the site it replaces in turn."""
    out = make_site(tmp_path / "site")
    _keep_once(out, {"v1/index.html": b"second"})
    base = base_path(out)
    base_files = inodes(base)
    prelink = Prelink(out)
    assert prelink.proc is None and not prelink.path.exists()  # no child linking a copy
    with transaction(out, prelink=prelink, meanwhile=lambda: None, keep_base=True) as staging:
        assert not base.exists() and inodes(staging) == base_files == inodes(out)
        write_bytes(staging / "v1" / "index.html", b"third")
    assert contents(out) == {**SITE, "v1/index.html": b"third"}
    assert same_tree(out, base) and beside(tmp_path) == []


@pytest.mark.parametrize("change", ["add", "remove", "replace"])
def test_a_kept_copy_that_no_longer_matches_out_is_not_used(change: str, tmp_path: Path):
    """OUT changed after the build that kept the copy: the copy is dropped, the staging folder linked
    afresh from OUT, and the published site is OUT's with the build's changes (a file removed from
    OUT does not come back from the copy)."""
    out = make_site(tmp_path / "site")
    _keep_once(out, {"v1/index.html": b"second"})
    {"add": _add_file, "remove": _remove_file, "replace": _replace_same_bytes}[change](out)
    expected = {**contents(out), "v1/extra.txt": b"extra"}
    with transaction(out, prelink=Prelink(out), meanwhile=lambda: None, keep_base=True) as staging:
        assert contents(staging) == contents(out) and inodes(staging) == inodes(out)
        write_bytes(staging / "v1" / "extra.txt", b"extra")
    assert contents(out) == expected and same_tree(out, base_path(out)) and beside(tmp_path) == []


def test_a_transaction_without_prelink_starts_from_the_kept_copy_and_one_that_keeps_none_drops_it(tmp_path: Path):
    """The version commands' transactions (no Prelink, no keep_base) stage in the kept copy too, and
    remove the replaced site and any kept copy: it would no longer match OUT."""
    out = make_site(tmp_path / "site")
    _keep_once(out, {"v1/index.html": b"second"})
    base_files = inodes(base_path(out))
    with transaction(out) as staging:
        assert inodes(staging) == base_files and not base_path(out).exists()
        write_bytes(staging / "v2" / "index.html", b"v2")
    assert not base_path(out).exists() and beside(tmp_path) == []
    assert contents(out)["v2/index.html"] == b"v2"


def test_a_failing_build_leaves_out_as_it_was_and_the_next_one_links_afresh(tmp_path: Path):
    """The kept copy taken as staging by a build that then fails is removed with the staging folder;
    OUT is untouched and the next build makes its own linked copy again."""
    out = make_site(tmp_path / "site")
    _keep_once(out, {"v1/index.html": b"second"})
    before = tree_digest(out)
    with pytest.raises(RuntimeError):
        with transaction(out, prelink=Prelink(out), meanwhile=lambda: None, keep_base=True) as staging:
            write_bytes(staging / "v1" / "index.html", b"half")
            raise RuntimeError("render failed")
    assert tree_digest(out) == before and not base_path(out).exists() and beside(tmp_path) == []
    prelink = Prelink(out)
    assert prelink.proc is not None  # no kept copy: a child links one
    _keep_once(out, {"v1/index.html": b"third"})
    prelink.discard()
    assert contents(out)["v1/index.html"] == b"third" and same_tree(out, base_path(out))


def test_recover_removes_a_kept_copy_of_a_site_that_is_gone(tmp_path: Path):
    out = make_site(tmp_path / "site")
    _keep_once(out, {"v1/index.html": b"second"})
    shutil.rmtree(out)
    recover(out.resolve())
    assert not base_path(out).exists()
    with transaction(out, prelink=None, meanwhile=lambda: None, keep_base=True) as staging:
        write_bytes(staging / "index.html", b"fresh")
    assert contents(out) == {"index.html": b"fresh"} and not base_path(out).exists()  # nothing replaced, nothing kept
