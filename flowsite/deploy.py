"""`flowsite deploy`: publish the output folder to a git branch (default gh-pages) as one commit.

Built with plumbing only (hash-object, mktree, commit-tree, update-ref with the expected old value),
so the user's working tree, index and HEAD are never touched, and a ref that moved meanwhile makes
the deploy fail instead of losing a commit. Every commit carries a `Flowsite-Deploy:` trailer: a
branch whose tip lacks it was not made by flowsite and is only overwritten with `force`.
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .errors import DeployError, Problem
from .versioning import Versions, read_default

TRAILER = "Flowsite-Deploy"
TRAILER_RE = re.compile(rf"^{TRAILER}: ", re.M)
FALLBACK_IDENT = {"GIT_AUTHOR_NAME": "flowsite", "GIT_AUTHOR_EMAIL": "flowsite@users.noreply.github.com",
                  "GIT_COMMITTER_NAME": "flowsite", "GIT_COMMITTER_EMAIL": "flowsite@users.noreply.github.com"}


@dataclass
class DeployResult:
    out_dir: Path
    branch: str
    commit: str
    previous: str | None
    created: bool  # False when the branch already held this exact site (no empty commit is made)
    files: int
    commits_on_branch: int
    pushed: bool


class _Git:
    def __init__(self, repo: Path):
        self.repo = repo
        self.env = dict(os.environ)
        for k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):  # a hook's environment must not redirect us
            self.env.pop(k, None)

    def run(self, *args: str, input: bytes | None = None, check: bool = True, env: dict | None = None) -> str:
        try:
            proc = subprocess.run(["git", "-C", str(self.repo), *args], input=input, capture_output=True, env={**self.env, **(env or {})})
        except FileNotFoundError:
            raise DeployError(problems=[Problem("git is not installed or not on PATH", hint="install git to deploy")]) from None
        if check and proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise DeployError(problems=[Problem(f"git {args[0]} failed: {err[-1] if err else 'exit ' + str(proc.returncode)}")])
        return proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else ""

    def ok(self, *args: str) -> bool:
        return subprocess.run(["git", "-C", str(self.repo), *args], capture_output=True, env=self.env).returncode == 0

    def rev(self, name: str) -> str | None:
        return self.run("rev-parse", "--verify", "-q", f"{name}^{{commit}}", check=False) or None


def _site_files(out: Path) -> list[tuple[str, Path]]:
    files = []
    for root, dirs, names in os.walk(out):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for n in sorted(names):
            p = Path(root) / n
            rel = p.relative_to(out).as_posix()
            if "\n" in rel:
                raise DeployError(problems=[Problem("a file name holds a line break; git plumbing cannot take it", file=str(p))])
            files.append((rel, p))
    return files


def _write_tree(git: _Git, out: Path) -> tuple[str, int]:
    """Write every file of OUT as blobs and trees; returns (tree id, file count)."""
    files = _site_files(out)
    if not any(rel == ".nojekyll" for rel, _ in files):
        files.append((".nojekyll", None))
    real = [p for _, p in files if p is not None]
    blobs = git.run("hash-object", "-w", "--no-filters", "--stdin-paths", input="".join(f"{p}\n" for p in real).encode()).split()
    empty = git.run("hash-object", "-w", "--stdin", input=b"")
    it = iter(blobs)
    entries: dict[str, dict[str, tuple[str, str]]] = {}  # folder -> name -> (kind, id)
    for rel, p in files:
        folder, _, name = rel.rpartition("/")
        entries.setdefault(folder, {})[name] = ("blob", next(it) if p is not None else empty)
    for folder in list(entries):
        while folder:  # make sure every ancestor folder exists, so subtrees get linked in
            folder = folder.rpartition("/")[0]
            entries.setdefault(folder, {})
    proc = subprocess.Popen(["git", "-C", str(git.repo), "mktree", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git.env)
    try:
        # Deepest folders first: a tree's id is known before its parent lists it.
        for folder in sorted(entries, key=lambda f: (-f.count("/") - bool(f), f)):
            lines = [f"{'100644 blob' if kind == 'blob' else '040000 tree'} {oid}\t{name}\n" for name, (kind, oid) in sorted(entries[folder].items())]
            proc.stdin.write(("".join(lines) + "\n").encode())
            proc.stdin.flush()
            oid = proc.stdout.readline().decode().strip()
            if not oid:
                raise DeployError(problems=[Problem(f"git mktree failed: {proc.stderr.read().decode('utf-8', 'replace').strip()}")])
            if folder:
                parent, _, name = folder.rpartition("/")
                entries[parent][name] = ("tree", oid)
            else:
                root = oid
    finally:
        proc.stdin.close()
        proc.wait()
    return root, len(files)


def _parse_commit(raw: str) -> tuple[str, dict[str, str], str]:
    head, _, message = raw.partition("\n\n")
    tree, env = "", {}
    for line in head.splitlines():
        key, _, value = line.partition(" ")
        if key == "tree":
            tree = value
        elif key in ("author", "committer"):
            m = re.fullmatch(r"(.*) <(.*)> (\d+ [+-]\d{4})", value)
            if m:
                env.update({f"GIT_{key.upper()}_NAME": m[1], f"GIT_{key.upper()}_EMAIL": m[2], f"GIT_{key.upper()}_DATE": m[3]})
    return tree, env, message


def _base(git: _Git, old: str | None, keep: int | None) -> tuple[str | None, bool]:
    """The parent for the new commit, rewriting history so at most KEEP commits remain; (parent, rewritten)."""
    if old is None or keep is None:
        return old, False
    if keep == 1:
        return None, True
    chain = git.run("rev-list", "--first-parent", f"--max-count={keep}", old).split()
    if len(chain) < keep:  # with the new commit the branch still holds at most KEEP commits
        return old, False
    # Recreate the newest KEEP-1 commits with the same trees, messages and identities, oldest first, without the rest.
    parent = None
    for sha in reversed(chain[: keep - 1]):
        tree, env, message = _parse_commit(git.run("cat-file", "commit", sha))
        args = ["commit-tree", tree] + (["-p", parent] if parent else [])
        parent = git.run(*args, input=message.encode(), env=env)
    return parent, True


def _checked_out(git: _Git, ref: str) -> bool:
    listing = git.run("worktree", "list", "--porcelain", check=False)
    return any(line == f"branch {ref}" for line in listing.splitlines())


def deploy(out: str | Path, *, repo: str | Path = ".", branch: str = "gh-pages", remote: str = "origin", push: bool = False,
           message: str | None = None, keep: int | None = None, force: bool = False) -> DeployResult:
    out_dir = Path(out).resolve()
    if not (out_dir / "versions.json").is_file():
        raise DeployError(problems=[Problem("no versions.json here: not a flowsite output folder", file=str(out_dir), hint="build first: flowsite build --out " + str(out))])
    versions = Versions.load(out_dir / "versions.json")
    if keep is not None and keep < 1:
        raise DeployError(problems=[Problem("--keep must be at least 1")])
    git = _Git(Path(repo).resolve())
    if not git.ok("rev-parse", "--git-dir"):
        raise DeployError(problems=[Problem("not inside a git repository", file=str(git.repo), hint="run flowsite deploy in your repository, or pass --repo")])
    if not git.ok("check-ref-format", "--branch", branch):
        raise DeployError(problems=[Problem(f"{branch!r} is not a valid branch name")])
    ref = f"refs/heads/{branch}"
    if _checked_out(git, ref):
        raise DeployError(problems=[Problem(f"the branch {branch} is checked out in a work tree; deploying would change files under it", hint="switch that work tree to another branch first")])

    remote_tip = None
    if push:
        if not git.ok("remote", "get-url", remote):
            raise DeployError(problems=[Problem(f"no remote named {remote!r}", hint="pass --remote, or add it with git remote add")])
        if git.ok("fetch", "-q", remote, f"+{ref}:refs/flowsite/remote-tip"):
            remote_tip = git.rev("refs/flowsite/remote-tip")
            git.run("update-ref", "-d", "refs/flowsite/remote-tip", check=False)
    old = git.rev(ref)
    if old is None and remote_tip is not None:
        old = remote_tip  # first deploy from this clone: continue the published branch
        expected_old = ""
    else:
        expected_old = old or ""
        if remote_tip is not None and old != remote_tip and not force and not git.ok("merge-base", "--is-ancestor", remote_tip, old):
            raise DeployError(problems=[Problem(f"{remote}/{branch} has commits that your local {branch} lacks")],
                              hint=f"git fetch {remote} {branch}:{branch} (then build and deploy again), or pass --force")
    if old is not None and not force:
        tip_message = git.run("log", "-1", "--format=%B", old)
        if not TRAILER_RE.search(tip_message):
            raise DeployError(problems=[Problem(f"the branch {branch} was not made by flowsite (its last commit has no {TRAILER} trailer); deploying would replace its files")],
                              hint="pick another --branch, or pass --force to overwrite it")

    tree, count = _write_tree(git, out_dir)
    if old is not None and git.run("rev-parse", f"{old}^{{tree}}") == tree:
        # Never an empty commit: the branch already holds this exact site.
        if push and remote_tip != old:
            _push(git, remote, ref, old, remote_tip)
        return DeployResult(out_dir, branch, old, old, False, count, int(git.run("rev-list", "--count", old)), push and remote_tip != old)

    names = ", ".join(v.version for v in versions.sorted().items)
    default = read_default(out_dir)
    body = (message or f"Deploy {names}").rstrip()
    full = f"{body}\n\nVersions: {names}\nDefault: {default or '-'}\n{TRAILER}: flowsite {__version__}\n"
    parent, rewritten = _base(git, old, keep)
    ident = {} if git.ok("var", "GIT_COMMITTER_IDENT") and git.ok("var", "GIT_AUTHOR_IDENT") else FALLBACK_IDENT
    commit = git.run("commit-tree", tree, *(["-p", parent] if parent else []), input=full.encode(), env=ident)
    # The expected old value makes this fail if someone else moved the branch since we read it.
    git.run("update-ref", "-m", f"flowsite deploy{' (history trimmed)' if rewritten else ''}", ref, commit, expected_old)
    pushed = False
    if push:
        try:
            _push(git, remote, ref, commit, remote_tip)
        except DeployError:
            # Put the local branch back, so a failed deploy changes nothing.
            if expected_old:
                git.run("update-ref", "-m", "flowsite deploy: push failed, undone", ref, expected_old, commit, check=False)
            else:
                git.run("update-ref", "-d", ref, commit, check=False)
            raise
        pushed = True
    return DeployResult(out_dir, branch, commit, old, True, count, int(git.run("rev-list", "--count", commit)), pushed)


def _push(git: _Git, remote: str, ref: str, commit: str, remote_tip: str | None) -> None:
    # --force-with-lease: replace only what we fetched (history trimmed by --keep is not a fast-forward).
    proc = subprocess.run(["git", "-C", str(git.repo), "push", "-q", f"--force-with-lease={ref}:{remote_tip or ''}", remote, f"{commit}:{ref}"],
                          capture_output=True, env=git.env)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DeployError(problems=[Problem(f"git push to {remote} failed: {err[-1] if err else 'exit ' + str(proc.returncode)}")],
                          hint="the local branch was left as it was; fix the remote and deploy again")
