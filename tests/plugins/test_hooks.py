"""Hook semantics in-process: stage hooks chain, built-ins come through the same hooks, plugin bugs are named."""
from __future__ import annotations

import pytest

from flowsite import build, check, hooks, plugins
from flowsite.errors import BuildError
from flowsite.metrics.catalogue import BUILTIN_IDS, MetricDef
from tests.conftest import run_cli
from tests.workflow.project import small_project


@pytest.fixture
def register():
    """register(obj): add a plugin object to the process-wide manager for one test."""
    added = []

    def _register(obj, name):
        plugins.manager().register(obj, name=name)
        added.append(name)
        return obj

    yield _register
    for name in added:
        plugins.manager().unregister(name=name)


def test_builtins_are_plugins():
    names = plugins.names()
    assert names[:3] == ["flowsite.presets", "flowsite.metrics.catalogue", "flowsite.metrics.custom"]
    ids = {d.id for d in plugins.metric_definitions(None)}
    assert ids == set(BUILTIN_IDS)
    plugins.install_presets()
    from flowsite.sources.presets import PRESETS

    assert {"jira-csv", "github-deployments"} & set(PRESETS), sorted(PRESETS)


class Recorder:
    def __init__(self):
        self.calls = []

    @hooks.hookimpl
    def on_config(self, config):
        self.calls.append("on_config")
        return None  # unchanged

    @hooks.hookimpl
    def on_sources(self, config, datasets):
        self.calls.append(f"on_sources:{','.join(sorted(datasets.frames))}")

    @hooks.hookimpl
    def on_scorecard(self, model):
        self.calls.append("on_scorecard")
        from dataclasses import replace

        return replace(model, description="Rewritten by a plugin")

    @hooks.hookimpl
    def on_page_context(self, template, path, context):
        self.calls.append(f"page:{template}:{path}")
        if template == "scorecard.html":
            return {**context, "version_title": "VT-from-plugin"}
        return None

    @hooks.hookimpl
    def on_post_build(self, config, result):
        self.calls.append(f"post:{result.version}:{config.name}")


def test_stage_hooks_run_in_order_and_replace_items(tmp_path, register):
    rec = register(Recorder(), "recorder")
    res = build(small_project(tmp_path / "p"), out=tmp_path / "site")
    c = rec.calls
    assert c[0] == "on_config" and c[1] == "on_sources:deployments,work_items" and c[2] == "on_scorecard"
    assert "page:scorecard.html:value-streams/shop/index.html" in c and "page:page.html:pages/about/index.html" in c
    assert c[-1] == "post:2026-09:Small Co"
    assert res.model.description == "Rewritten by a plugin"
    v = tmp_path / "site" / "2026-09"
    assert "Rewritten by a plugin" in (v / "index.html").read_text()
    assert "VT-from-plugin" in (v / "value-streams" / "shop" / "index.html").read_text()
    assert "VT-from-plugin" not in (v / "index.html").read_text()


class Broken:
    @hooks.hookimpl
    def on_config(self, config):
        raise KeyError("oops")


def test_a_plugin_bug_is_reported_as_the_plugins(tmp_path, register):
    register(Broken(), "broken-plugin")
    with pytest.raises(BuildError) as exc:
        check(small_project(tmp_path / "p"))
    assert "plugin 'broken-plugin' failed in hook on_config: KeyError: 'oops'" in str(exc.value)
    r = run_cli("check", tmp_path / "p")
    assert r.exit_code == 1 and "broken-plugin" in r.stderr


class Clash:
    @hooks.hookimpl
    def register_metrics(self):
        return [MetricDef("lead_time", "Another lead time", "delivery", "hours", "lower", "", "", ())]


def test_duplicate_metric_ids_are_refused(tmp_path, register):
    register(Clash(), "clash")
    with pytest.raises(BuildError) as exc:
        check(small_project(tmp_path / "p"))
    assert "metric id 'lead_time' is defined by both 'flowsite.metrics.catalogue' and 'clash'" in exc.value.format()


class PresetClash:
    @hooks.hookimpl
    def register_presets(self):
        return {"jira-csv": lambda config, spec: None}


def test_duplicate_preset_names_are_refused(tmp_path, register):
    register(PresetClash(), "preset-clash")
    with pytest.raises(BuildError) as exc:
        check(small_project(tmp_path / "p"))
    assert "source preset 'jira-csv' is registered by both 'flowsite.presets' and 'preset-clash'" in exc.value.format()


def test_entry_point_that_fails_to_import_is_named(tmp_path, monkeypatch):
    dist = tmp_path / "bad_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[flowsite.plugins]\nbad = no_such_module_for_flowsite\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset()
    try:
        with pytest.raises(BuildError) as exc:
            plugins.manager()
        assert "cannot load plugin 'bad' (no_such_module_for_flowsite): ModuleNotFoundError" in exc.value.format()
    finally:
        monkeypatch.undo()
        plugins.reset()


class Stray:
    @hooks.hookimpl
    def compute_figures(self, periods):
        import polars as pl

        return pl.DataFrame({"value_stream": ["shop"], "metric": ["not_registered"], "period": [periods[-1].label], "value": [1.0], "n": [1]})


def test_figures_for_an_unregistered_metric_are_refused(tmp_path, register):
    register(Stray(), "stray")
    with pytest.raises(BuildError) as exc:
        check(small_project(tmp_path / "p"))
    assert "plugin 'stray' returned figures for unregistered metric(s) 'not_registered'" in exc.value.format()
