"""The `flowsite` command: a thin shell over the Python API. Only this module turns errors into exit codes.

Exit codes: 0 ok, 1 a user or data error, 2 a bug in flowsite, 130 interrupted.
"""
from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path

import click

from . import __version__
from .errors import FlowsiteError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _is_ci() -> bool:
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()


class Reporter:
    """Stage progress: a live line on a terminal, silent in CI unless -v."""

    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.interactive = not _is_ci()

    def __call__(self, stage: str, message: str) -> None:
        if self.verbose:
            click.echo(f"[{stage}] {message}", err=True)
        elif self.interactive:
            click.echo(f"\r\033[K{stage}: {message}", err=True, nl=False)

    def done(self) -> None:
        if self.interactive and not self.verbose:
            click.echo("\r\033[K", err=True, nl=False)


def handle_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FlowsiteError as exc:
            click.echo("", err=True) if not _is_ci() else None
            for problem in exc.problems:
                click.echo(f"Error: {problem.format()}", err=True)
            click.echo(f"Aborted with a {exc.kind}: {exc}" if exc.problems else f"Error: {exc}", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("\nInterrupted; the output folder is unchanged.", err=True)
            sys.exit(130)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception:  # noqa: BLE001 - a bug: say so, with the traceback for a report
            traceback.print_exc()
            click.echo(f"flowsite {__version__} hit an internal error (a bug). Please report it with the traceback above.", err=True)
            sys.exit(2)
    return wrapper


def print_warnings(warnings) -> None:
    for w in warnings:
        click.echo(f"Warning: {w.format()}", err=True)


verbose_option = click.option("-v", "--verbose", is_flag=True, help="Print each stage (progress is silent in CI otherwise).")
strict_option = click.option("--strict", is_flag=True, help="Treat warnings (unknown keys, dropped rows) as errors.")
project_argument = click.argument("project", default=".", type=click.Path(file_okay=True, dir_okay=True, path_type=Path))


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="flowsite")
def main() -> None:
    """flowsite: versioned static sites of business-IT alignment scorecards.

    Reads flowsite.yml and the exports it names, computes DORA, Flow Framework, Westrum, value
    stream map and KPI figures, and writes a static site any web server can host.
    """


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Write into a folder that is not empty.")
@handle_errors
def init(directory: Path, force: bool) -> None:
    """Create a working project in DIRECTORY, with sample data."""
    from .scaffold import init_project

    counts = init_project(directory, force=force)
    click.echo(f"Created a flowsite project in {directory} ({sum(counts.values())} sample rows).")
    click.echo(f"Next: flowsite build {directory}")


@main.command()
@project_argument
@strict_option
@verbose_option
@handle_errors
def check(project: Path, strict: bool, verbose: bool) -> None:
    """Validate flowsite.yml and the data without writing anything.

    Reports per dataset the rows read and dropped (with reasons), the date range, the value
    streams seen and any unmapped types or statuses.
    """
    from ._build import check as run_check

    rep = Reporter(verbose)
    result = run_check(project, strict=strict, progress=rep)
    rep.done()
    print_warnings(result.warnings)
    cfg = result.config
    click.echo(f"{cfg.config_file}: configuration OK ({len(cfg.value_streams)} value streams, period {cfg.period}, window {cfg.window}, profile {cfg.profile}, benchmark {cfg.benchmark})")
    for name, r in sorted(result.datasets.reports.items()):
        dropped = sum(r.dropped.values())
        line = f"  {name:<17} {r.rows_read:>8} rows read, {r.rows_used:>8} used, {dropped} dropped"
        if r.first and r.last:
            line += f", {r.first[:10]} to {r.last[:10]}"
        click.echo(line)
        for reason, n in sorted(r.dropped.items()):
            click.echo(f"      dropped {n}: {reason}")
        if r.value_streams:
            click.echo(f"      value streams: {', '.join(r.value_streams)}")
        for what, values in sorted(r.unmapped.items()):
            click.echo(f"      unmapped {what}: {', '.join(values[:12])}")
    missing = [d for d in ("work_items", "status_changes", "deployments", "changes", "incidents", "survey_responses", "kpis") if d not in result.datasets.reports]
    if missing:
        click.echo(f"  not configured: {', '.join(missing)} (their metrics show 'no data')")
    click.echo(f"OK: {result.results.figures.height} figures for {len(result.results.value_streams)} value streams, periods {result.results.periods[0].label} to {result.results.periods[-1].label}.")


@main.command()
@project_argument
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Output folder (default: site.output in flowsite.yml, i.e. PROJECT/site).")
@click.option("--version", "version_name", help="Version name, e.g. 2026-10 (default: the latest period of the data).")
@click.option("--title", help="Version title shown in the switcher (default: the version name).")
@click.option("--alias", "aliases", multiple=True, help="Alias for this version (repeatable). Default: latest, when this is the newest version.")
@click.option("--no-alias", is_flag=True, help="Give this version no alias.")
@strict_option
@verbose_option
@handle_errors
def build(project: Path, out: Path | None, version_name: str | None, title: str | None, aliases: tuple[str, ...], no_alias: bool, strict: bool, verbose: bool) -> None:
    """Build the scorecard site of PROJECT into the output folder as one version."""
    from ._build import build as run_build

    rep = Reporter(verbose)
    result = run_build(project, out=out, version=version_name, title=title, aliases=[] if no_alias else (list(aliases) or None), strict=strict, progress=rep)
    rep.done()
    print_warnings(result.warnings)
    alias_text = f" (aliases: {', '.join(result.aliases)})" if result.aliases else ""
    click.echo(f"Built version {result.version}{alias_text}: {len(result.model.scorecards)} scorecards, {len(result.files)} files in {result.out_dir} ({result.timings['total']:.1f} s).")
    if verbose:
        click.echo("  " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()), err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
