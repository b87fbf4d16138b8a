"""The plugin hook specifications: every extension point of flowsite, in one documented module.

A plugin is a module (or object) with functions named like these, marked with `@hookimpl`, and
published under the `flowsite.plugins` entry point group. A plugin may accept only some of a hook's
arguments. Stage hooks (`on_*`) receive the item and return a replacement or None (unchanged);
they run one after another, each seeing the previous one's result. docs/plugins.md documents every
hook with its exact signature (a test keeps the two in step).
"""
from __future__ import annotations

import pluggy

PROJECT = "flowsite"
ENTRY_POINT_GROUP = "flowsite.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_presets():
    """Return {format name: preset function} for new source presets.

    A preset is `preset(config, spec) -> flowsite.sources._model.RawFrame`; a project selects it
    with `sources.<dataset>.format: <name>`. Names must be unique across plugins.
    """


@hookspec
def register_metrics(config):
    """Return a list of `flowsite.metrics.catalogue.MetricDef` this plugin computes.

    Definitions give each figure its name, group, unit, direction and the text on its metric page.
    `config` is the project's Config (definitions may depend on it). Ids must be unique.
    """


@hookspec
def compute_figures(config, frames, periods):
    """Return a polars DataFrame of figures for this plugin's metrics, or None.

    Columns: value_stream (str), metric (str), period (a period label or "window"), value (float,
    null = no data), n (int). `frames` maps canonical dataset names to polars DataFrames (timestamps
    in UTC, already clipped to `as_of`); `periods` is the list of Period(label, start, end), oldest first.
    """


@hookspec
def on_config(config):
    """Called after flowsite.yml is validated. Return a replacement Config or None."""


@hookspec
def on_sources(config, datasets):
    """Called after every dataset is loaded and normalised. Return a replacement Datasets or None."""


@hookspec
def on_scorecard(config, model):
    """Called after the scorecards are built. Return a replacement SiteModel or None."""


@hookspec
def on_page_context(config, template, path, context):
    """Called before each page of a version folder is rendered. Return a replacement context dict or None.

    `template` is the template name (e.g. "scorecard.html"), `path` the page's path in the
    version folder (e.g. "value-streams/checkout/index.html").
    """


@hookspec
def on_post_build(config, result):
    """Called after the site is written, with the BuildResult. The return value is ignored."""
