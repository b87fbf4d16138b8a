"""The `flowsite` command: a thin shell over the Python API. Only this module turns errors into exit codes.

Exit codes: 0 ok, 1 a user or data error, 2 a bug in flowsite, 3 a figure missed its target
(`flowsite metrics --fail-on`), 130 interrupted.
"""
from __future__ import annotations

import functools
import os
import sys
import time
import traceback
from pathlib import Path

import click

from . import __version__
from .errors import FlowsiteError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _is_ci() -> bool:
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()


class Reporter:
    """Stage progress: on a terminal a rich line per stage (its message with counts and its time),
    silent in CI and pipes unless -v, which prints every stage as a plain log line."""

    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.interactive = not _is_ci()
        self.stage: str | None = None
        self.started = time.perf_counter()
        self.progress = None
        self.task = None

    def __call__(self, stage: str, message: str) -> None:
        if self.verbose:
            click.echo(f"[{stage}] {message}", err=True)
            return
        if not self.interactive:
            return
        if self.progress is None:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            # No refresh thread: an error message printed next is never overwritten by the display.
            self.progress = Progress(SpinnerColumn(finished_text="[green]✓"), TextColumn("[bold]{task.fields[stage]:<8}"), TextColumn("{task.description}"),
                                     TimeElapsedColumn(), console=Console(stderr=True), auto_refresh=False, transient=False)
            self.progress.start()
        if stage != self.stage and self.task is not None:
            self.progress.update(self.task, total=1, completed=1)
        if stage != self.stage:
            self.task = self.progress.add_task(message, stage=stage, total=None)
            self.stage = stage
        else:
            self.progress.update(self.task, description=message)
        self.progress.refresh()

    def done(self) -> None:
        if self.progress is not None:
            if self.task is not None:
                self.progress.update(self.task, total=1, completed=1)
            self.progress.refresh()
            self.progress.stop()
            self.progress = None


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
    from . import plugins

    if plugins.installed():
        click.echo("  plugins: " + ", ".join(f"{n} ({d})" for n, d in sorted(plugins.installed().items())))
    for name, r in sorted(result.datasets.reports.items()):
        dropped = sum(r.dropped.values())
        line = f"  {name:<17} {r.rows_read:>8} rows read, {r.rows_used:>8} used, {dropped} dropped"
        if r.first and r.last:
            line += f", {r.first[:10]} to {r.last[:10]}"
        click.echo(line)
        if r.origin:
            click.echo(f"      from: {r.origin}")
        for reason, n in sorted(r.dropped.items()):
            click.echo(f"      dropped {n}: {reason}")
        if r.value_streams:
            click.echo(f"      value streams: {', '.join(r.value_streams)}")
        for what, counts in r.mapped.items():
            shown = list(counts.items())
            if shown:
                click.echo(f"      {what}: {', '.join(f'{v} {n}' for v, n in shown[:10])}{' …' if len(shown) > 10 else ''}")
        for what, values in sorted(r.unmapped.items()):
            click.echo(f"      unmapped {what}: {', '.join(values[:12])}")
            if what == "value_stream":
                click.echo("        (assign them with value_streams[].match: projects, labels, repos or services)")
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
@click.option("--history-url", metavar="URL", help="Restore earlier versions from the published site first (for CI runs that start empty).")
@click.option("--history-archive", type=click.Path(dir_okay=False, path_type=Path), help="Restore earlier versions from this .tar.gz if it exists, and rewrite it with the whole site after the build.")
@click.option("--no-cache", is_flag=True, help="Build everything again, ignoring the incremental build cache (FLOWSITE_CACHE_DIR=off does the same).")
@strict_option
@verbose_option
@handle_errors
def build(project: Path, out: Path | None, version_name: str | None, title: str | None, aliases: tuple[str, ...], no_alias: bool, strict: bool, verbose: bool,
          history_url: str | None = None, history_archive: Path | None = None, no_cache: bool = False) -> None:
    """Build the scorecard site of PROJECT into the output folder as one version."""
    rep = Reporter(verbose)
    options = {"out": out, "version": version_name, "title": title, "aliases": [] if no_alias else (list(aliases) or None), "strict": strict,
               "history_url": history_url, "history_archive": history_archive}
    quick, begun = None, None
    if not no_cache:
        # Nothing to do is found before polars and the rest are imported (most of such a build's time).
        from .uptodate import quick_start

        quick, begun = quick_start(project, progress=rep, **options)
    if quick is not None:
        version, shown_aliases, scorecards, files, out_dir, warnings, timings = quick.version, quick.aliases, quick.scorecards, quick.files, quick.out_dir, quick.warnings, quick.timings
    else:
        from ._build import build as run_build

        result = run_build(project, progress=rep, cache=not no_cache, begun=begun, **options)
        version, shown_aliases, scorecards, files, out_dir, warnings, timings = result.version, result.aliases, len(result.model.scorecards), len(result.files), result.out_dir, result.warnings, result.timings
    rep.done()
    print_warnings(warnings)
    alias_text = f" (aliases: {', '.join(shown_aliases)})" if shown_aliases else ""
    click.echo(f"Built version {version}{alias_text}: {scorecards} scorecards, {files} files in {out_dir} ({timings['total']:.1f} s).")
    if verbose:
        click.echo("  " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()), err=True)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--scale", type=click.Choice(["S", "M", "L"], case_sensitive=False), default="S", show_default=True,
              help="S: the sample's size; M: 50 value streams, 200k work items, 1M status changes; L: 500 value streams, 2M work items, 10M status changes.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (the same seed and scale give the same bytes).")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty.")
@handle_errors
def demo(directory: Path, scale: str, seed: int, force: bool) -> None:
    """Create a project in DIRECTORY with generated data at a chosen scale (Parquet), to try flowsite at your size."""
    from .demo import create_demo

    started = time.perf_counter()
    counts = create_demo(directory, scale.upper(), seed=seed, force=force)
    click.echo(f"Created a scale-{scale.upper()} demo project in {directory} in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in counts.items()) + ".")
    click.echo(f"Next: flowsite build {directory}")


out_option = click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("site"), show_default=True, help="The output folder `flowsite build` wrote.")


@main.group(context_settings=CONTEXT)
def versions() -> None:
    """List and manage the versions of a built site (versions.json, aliases, the default)."""


@versions.command("list")
@out_option
@click.option("--json", "as_json", is_flag=True, help="Print versions.json as stored (mike's format).")
@handle_errors
def versions_list(out: Path, as_json: bool) -> None:
    """List versions, newest period first, with aliases and the default."""
    from .versioning import list_site

    items, default = list_site(out)
    if as_json:
        click.echo(items.dumps(), nl=False)
        return
    for v in items.items:
        is_default = default is not None and (default == v.version or default in v.aliases)
        title = f"  \"{v.title}\"" if v.title != v.version else ""
        aliases = f" [{', '.join(v.aliases)}]" if v.aliases else ""
        click.echo(f"{v.version}{title}{aliases}{'  (default)' if is_default else ''}")


@versions.command("delete")
@out_option
@click.argument("names", nargs=-1, required=True)
@handle_errors
def versions_delete(out: Path, names: tuple[str, ...]) -> None:
    """Delete versions (folder and entry) or aliases; other versions are left untouched."""
    from .versioning import delete

    for name in names:
        for note in delete(out, name):
            click.echo(note)


@versions.command("alias")
@out_option
@click.argument("version")
@click.argument("aliases", nargs=-1, required=True)
@click.option("--update-aliases", is_flag=True, help="Move an alias that already points to another version.")
@handle_errors
def versions_alias(out: Path, version: str, aliases: tuple[str, ...], update_aliases: bool) -> None:
    """Give VERSION one or more ALIASES (e.g. `stable`), each a folder beside it."""
    from .versioning import alias

    for name in aliases:
        for note in alias(out, version, name, update_aliases=update_aliases):
            click.echo(note)


@versions.command("set-default")
@out_option
@click.argument("name")
@handle_errors
def versions_set_default(out: Path, name: str) -> None:
    """Make the site root redirect to NAME (a version or an alias); later builds keep it."""
    from .versioning import set_default

    for note in set_default(out, name):
        click.echo(note)


@versions.command("retitle")
@out_option
@click.argument("version")
@click.argument("title")
@handle_errors
def versions_retitle(out: Path, version: str, title: str) -> None:
    """Change the title VERSION shows in the version switcher."""
    from .versioning import retitle

    for note in retitle(out, version, title):
        click.echo(note)


@main.command()
@out_option
@click.option("--branch", default="gh-pages", show_default=True, help="Branch to publish to.")
@click.option("--remote", default="origin", show_default=True, help="Remote to push to with --push.")
@click.option("--push", is_flag=True, help="Push the branch to the remote after committing.")
@click.option("-m", "--message", help="Commit message (default: names the versions deployed).")
@click.option("--keep", type=click.IntRange(min=1), help="Keep only the last N deploy commits on the branch (older history is dropped).")
@click.option("--squash", is_flag=True, help="Make the deploy the branch's only commit (same as --keep 1).")
@click.option("--force", is_flag=True, help="Overwrite a branch flowsite did not create.")
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Any folder inside the git repository to publish in.")
@handle_errors
def deploy(out: Path, branch: str, remote: str, push: bool, message: str | None, keep: int | None, squash: bool, force: bool, repo: Path) -> None:
    """Commit the output folder to a branch (default gh-pages) without touching your work tree.

    One commit per deploy, made with git plumbing: your branch, index and files stay as they are.
    Nothing changes when any step fails.
    """
    from .deploy import deploy as run_deploy

    if squash and keep is not None:
        raise click.UsageError("pass --keep N or --squash, not both")
    result = run_deploy(out, repo=repo, branch=branch, remote=remote, push=push, message=message, keep=1 if squash else keep, force=force)
    pushed = f"; pushed to {remote}" if result.pushed else ""
    if not result.created:
        click.echo(f"Nothing to deploy: {result.branch} already holds this site at {result.commit[:12]}, no commit made{pushed}.")
        return
    click.echo(f"Deployed {result.out_dir} to {result.branch} as {result.commit[:12]} ({result.files} files; {result.commits_on_branch} commit(s) on the branch){pushed}.")


EXIT_TARGET_MISSED = 3


@main.command("metrics")
@project_argument
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True, help="Output format.")
@click.option("--fail-on", type=click.Choice(["off-track", "at-risk"]), help="Exit with code 3 when a selected figure is this status or worse.")
@click.option("--value-stream", "value_streams", multiple=True, metavar="ID", help="Only this value stream (repeatable).")
@click.option("--metric", "metric_ids", multiple=True, metavar="ID", help="Only this metric, e.g. lead_time or kpi.nps (repeatable).")
@click.option("--period", metavar="LABEL", help="Figures of this period (e.g. 2026-10) or `window`; default: each figure's latest period.")
@strict_option
@verbose_option
@handle_errors
def metrics_command(project: Path, fmt: str, fail_on: str | None, value_streams: tuple[str, ...], metric_ids: tuple[str, ...], period: str | None, strict: bool, verbose: bool) -> None:
    """Print the figures of PROJECT without building a site.

    Exit codes: 0 ok, 1 a problem with config, data or a filter, 3 a selected figure missed its
    target (with --fail-on), so a CI step can tell a missed target from a broken project.
    """
    from . import figures
    from ._build import check as run_check

    rep = Reporter(verbose)
    result = run_check(project, strict=strict, progress=rep)
    rep.done()
    print_warnings(result.warnings)
    rows = figures.select(result.model, value_streams=value_streams, metrics=metric_ids, period=period)
    click.echo(figures.render(rows, fmt, result.model))
    if fail_on:
        bad = figures.failing(rows, fail_on)
        if bad:
            for r in bad:
                click.echo(f"Target missed: {r.value_stream} {r.metric} = {r.display} ({r.period}), {r.status}", err=True)
            click.echo(f"{len(bad)} figure(s) {fail_on} or worse.", err=True)
            sys.exit(EXIT_TARGET_MISSED)


@main.command()
@project_argument
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on; the next free one is used when it is taken.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep the default unless you know you need another).")
@handle_errors
def serve(project: Path, port: int, host: str) -> None:
    """Preview PROJECT locally, rebuilding and reloading the browser when files change.

    Builds into a temporary folder (never into the project), watches the config, data, pages and
    theme, and keeps the last good site served when a build fails (the error shows in the
    terminal and on the page). Stop with Ctrl+C.
    """
    from .config import find_config
    from .serve import DevServer

    find_config(project)  # no project at all is an error now; a broken one is shown in the browser
    server = DevServer(project, host=host, port=port, echo=lambda m: click.echo(m, err=True))
    server.start()
    click.echo(f"Serving {project} at {server.url} (Ctrl+C to stop)", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
    finally:
        server.stop()


@main.command("dbt-exposures")
@project_argument
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: dbt.exposures in flowsite.yml, inside the dbt project).")
@handle_errors
def dbt_exposures(project: Path, out: Path | None) -> None:
    """Write a dbt exposures YAML for PROJECT's scorecards (one per value stream).

    Each exposure depends on the dbt models the datasets read with `dbt_ref`, so the scorecards
    appear in dbt's lineage graph and docs after the next `dbt parse` or `dbt docs generate`.
    """
    from .config import load_config
    from .exposures import write_exposures

    path = write_exposures(load_config(project), out)
    click.echo(f"Wrote dbt exposures to {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
