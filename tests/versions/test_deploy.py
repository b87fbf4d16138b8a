"""`flowsite deploy` against real git repositories made in tmp_path (a work repo and a bare remote)."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from flowsite.deploy import deploy
from flowsite.errors import DeployError

from ..conftest import run_cli
from .conftest import stages


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, input=input).stdout.decode().strip()


@pytest.fixture
def repos(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """A user's repository with a dirty work tree and staged change, and a bare remote."""
    # No global git identity, like a CI runner: deploy must still be able to commit.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for k in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(k, raising=False)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "README.md").write_text("hello\n")
    (work / "notes.txt").write_text("one\n")
    git(work, "add", "README.md", "notes.txt")
    git(work, "-c", "user.name=U", "-c", "user.email=u@example.org", "commit", "-qm", "init")
    git(work, "remote", "add", "origin", str(remote))
    (work / "README.md").write_text("hello, edited\n")  # unstaged change
    (work / "staged.txt").write_text("staged\n")
    git(work, "add", "staged.txt")  # staged change
    (work / "untracked.txt").write_text("x\n")
    return work, remote


def user_state(work: Path) -> tuple:
    return (git(work, "rev-parse", "HEAD"), git(work, "symbolic-ref", "HEAD"), git(work, "status", "--porcelain"),
            hashlib.sha256((work / ".git" / "index").read_bytes()).hexdigest(),
            {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()})


def tree_of(repo: Path, rev: str) -> dict[str, str]:
    return {line.split("\t")[1]: line.split()[2] for line in git(repo, "ls-tree", rev).splitlines()}


def test_three_deploys_make_three_commits_and_leave_the_user_alone(three_version_site: Path, repos):
    work, remote = repos
    before = user_state(work)
    out = work.parent / "site"
    for i, stage in enumerate(stages(three_version_site), 1):
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(stage, out)
        r = run_cli("deploy", "--out", out, "--repo", work, "--push")
        assert r.exit_code == 0, r.output
        assert git(work, "rev-list", "--count", "gh-pages") == str(i)
        tree = tree_of(work, "gh-pages")
        newest = ["2026-9", "2026-10", "2026-11"][i - 1]
        assert tree["latest"] == tree[newest]  # the alias is the same tree as its version
    assert user_state(work) == before
    tree = tree_of(work, "gh-pages")
    assert {"2026-9", "2026-10", "2026-11", "latest", "versions.json", "index.html", "404.html", ".nojekyll", "sitemap.xml"} <= set(tree)
    assert tree["2026-10"] != tree["2026-11"]
    assert git(remote, "rev-parse", "gh-pages") == git(work, "rev-parse", "gh-pages")
    messages = git(work, "log", "--format=%B%x00", "gh-pages").split("\0")
    assert all("Flowsite-Deploy: flowsite" in m for m in messages if m.strip())
    assert git(work, "log", "-1", "--format=%an", "gh-pages") == "flowsite"  # fallback identity
    # Same site again: no empty commit, still success.
    r = run_cli("deploy", "--out", out, "--repo", work)
    assert r.exit_code == 0 and "no commit made" in r.output
    assert git(work, "rev-list", "--count", "gh-pages") == "3"
    # The deployed files are the output folder's bytes.
    assert git(work, "show", "gh-pages:versions.json").encode() + b"\n" == (out / "versions.json").read_bytes()


def test_a_failed_push_leaves_local_and_remote_branches_as_they_were(three_version_site: Path, repos):
    work, remote = repos
    s1, s2, _ = stages(three_version_site)
    assert deploy(s1, repo=work, push=True).created
    tip = git(work, "rev-parse", "gh-pages")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'rejected by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = user_state(work)
    r = run_cli("deploy", "--out", s2, "--repo", work, "--push")
    assert r.exit_code == 1 and "git push to origin failed" in r.output
    assert git(work, "rev-parse", "gh-pages") == tip == git(remote, "rev-parse", "gh-pages")
    assert user_state(work) == before
    # Failing while writing objects (a dangling link in the site) also changes no branch.
    broken = work.parent / "broken"
    shutil.copytree(s2, broken)
    (broken / "2026-10" / "gone.html").symlink_to(broken / "nowhere")
    r = run_cli("deploy", "--out", broken, "--repo", work)
    assert r.exit_code == 1 and "git hash-object failed" in r.output
    assert git(work, "rev-parse", "gh-pages") == tip and user_state(work) == before


def test_a_branch_flowsite_did_not_make_is_only_replaced_with_force(three_version_site: Path, repos):
    work, _ = repos
    empty_tree = git(work, "hash-object", "-t", "tree", "-w", "--stdin", input=b"")
    foreign = git(work, "-c", "user.name=U", "-c", "user.email=u@example.org", "commit-tree", empty_tree, "-m", "hand-made docs")
    git(work, "update-ref", "refs/heads/gh-pages", foreign)
    s1 = stages(three_version_site)[0]
    r = run_cli("deploy", "--out", s1, "--repo", work)
    assert r.exit_code == 1 and "was not made by flowsite" in r.output and "--force" in r.output
    assert git(work, "rev-parse", "gh-pages") == foreign
    r = run_cli("deploy", "--out", s1, "--repo", work, "--force")
    assert r.exit_code == 0, r.output
    assert git(work, "rev-parse", "gh-pages^") == foreign


def test_keep_and_squash_bound_the_branch_history(three_version_site: Path, repos):
    work, _ = repos
    trees = []
    for stage in stages(three_version_site):
        res = deploy(stage, repo=work, keep=2)
        trees.append(git(work, "rev-parse", f"{res.commit}^{{tree}}"))
    assert git(work, "rev-list", "--count", "gh-pages") == "2"
    assert git(work, "rev-parse", "gh-pages^^{tree}") == trees[1]  # the kept commit keeps its content
    assert git(work, "rev-list", "--max-parents=0", "gh-pages") == git(work, "rev-parse", "gh-pages^")
    r = run_cli("deploy", "--out", stages(three_version_site)[0], "--repo", work, "--squash")
    assert r.exit_code == 0, r.output
    assert git(work, "rev-list", "--count", "gh-pages") == "1"
    assert set(tree_of(work, "gh-pages")) >= {"2026-9", "latest", ".nojekyll"}


def test_refuses_what_it_cannot_deploy(tmp_path: Path, three_version_site: Path, repos):
    work, _ = repos
    with pytest.raises(DeployError, match="not a flowsite output folder"):
        deploy(tmp_path / "missing", repo=work)
    with pytest.raises(DeployError, match="not inside a git repository"):
        deploy(stages(three_version_site)[0], repo=tmp_path)
    with pytest.raises(DeployError, match="not a valid branch name"):
        deploy(stages(three_version_site)[0], repo=work, branch="bad..name")
    with pytest.raises(DeployError, match="checked out"):
        deploy(stages(three_version_site)[0], repo=work, branch="main")
    with pytest.raises(DeployError, match="no remote named"):
        deploy(stages(three_version_site)[0], repo=work, push=True, remote="nowhere")
    assert git(work, "branch", "--list", "gh-pages") == ""


def test_a_remote_branch_ahead_of_the_local_one_is_not_overwritten(three_version_site: Path, repos, tmp_path: Path):
    work, remote = repos
    s1, s2, s3 = stages(three_version_site)
    deploy(s1, repo=work, push=True)
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(remote), str(other)], check=True, capture_output=True)
    deploy(s2, repo=other, push=True)  # a colleague deployed meanwhile, continuing the published branch
    ahead = git(remote, "rev-parse", "gh-pages")
    assert git(remote, "rev-parse", "gh-pages^") == git(work, "rev-parse", "gh-pages")
    r = run_cli("deploy", "--out", s3, "--repo", work, "--push")
    assert r.exit_code == 1 and "has commits that your local gh-pages lacks" in r.output
    assert git(remote, "rev-parse", "gh-pages") == ahead
    git(work, "fetch", "-q", "origin", "gh-pages:gh-pages")
    assert run_cli("deploy", "--out", s3, "--repo", work, "--push").exit_code == 0
    assert git(remote, "rev-list", "--count", "gh-pages") == "3"
