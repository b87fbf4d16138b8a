"""The reference pages in docs/ are generated from the code and must match it (regenerate: python -m flowsite.docs)."""
from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from flowsite import _schema as s
from flowsite import docs as gen
from flowsite.cli import main
from flowsite.config import SCHEMA
from flowsite.metrics.catalogue import register_metrics

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
REGENERATE = "run `python -m flowsite.docs` and commit the result"


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_every_config_key_has_a_doc_string():
    undocumented = [path for path, opt in s.walk_docs(SCHEMA) if not (opt.doc or "").strip()]
    assert not undocumented, f"config keys without a doc string in flowsite/config.py: {undocumented}"


def test_every_config_key_is_in_config_md():
    text = read("config.md")
    missing = [path for path, _ in s.walk_docs(SCHEMA) if f"`{path}`" not in text]
    assert not missing, f"docs/config.md lacks {missing}; {REGENERATE}"


@pytest.mark.parametrize("name", ["config.md", "datasets.md", "metrics.md", "cli.md"])
def test_generated_pages_are_current(name):
    assert read(name) == gen.generate()[name], f"docs/{name} is stale; {REGENERATE}"


def test_every_metric_definition_is_in_metrics_md():
    text = read("metrics.md")
    for d in register_metrics():
        assert f"(`{d.id}`)" in text and d.definition in text, d.id


def _all_commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        if not cmd.hidden:
            yield (*prefix, name)
            if isinstance(cmd, click.Group):
                yield from _all_commands(cmd, (*prefix, name))


def test_cli_md_holds_the_real_help_of_every_command():
    text = read("cli.md")
    paths = [(), *_all_commands(main)]
    assert {"build", "check", "metrics", "serve"} <= {p[0] for p in paths if p}
    runner = CliRunner(env={"COLUMNS": gen.HELP_COLUMNS})
    for path in paths:
        r = runner.invoke(main, [*path, "--help"], prog_name="flowsite")
        assert r.exit_code == 0, r.output
        title = " ".join(("flowsite", *path))
        block = f"## `{title}`\n\n```text\n{r.stdout.rstrip()}\n```"
        assert block in text, f"`{title} --help` differs from docs/cli.md; {REGENERATE}"


def test_check_mode_reports_a_stale_page(tmp_path):
    for name, body in gen.generate().items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    assert gen.stale(tmp_path) == []
    (tmp_path / "config.md").write_text("old\n", encoding="utf-8")
    assert gen.stale(tmp_path) == ["config.md"]
    r = CliRunner().invoke(gen.main, ["--check", "--docs", str(tmp_path)])
    assert r.exit_code == 1 and "config.md is stale" in r.output


def test_links_between_docs_resolve():
    broken = []
    for page in sorted(DOCS.rglob("*.md")):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, broken
