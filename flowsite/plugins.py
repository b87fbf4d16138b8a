"""The plugin manager: built-in plugins plus those installed under the `flowsite.plugins` entry point group.

Built-in metric definitions, source presets and metrics as code are registered through the same
hooks as third-party plugins, so a plugin can do whatever the core does. Library code calls the
helpers here (`chain`, `metric_definitions`, `figures`, `install_presets`), never pluggy directly.
"""
from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any

import pluggy

from . import hooks
from .errors import BuildError, FlowsiteError, Problem

# Imported lazily by name so this module stays at the bottom of the import graph.
BUILTIN_MODULES = ("flowsite.metrics.catalogue", "flowsite.metrics.custom")
BUILTIN_PLUGINS = frozenset({"flowsite.presets", *BUILTIN_MODULES})  # the names the built-ins register under

_manager: pluggy.PluginManager | None = None
_plugin_presets: set[str] = set()  # preset names installed from plugins (not the built-in decorator registry)
_installed: dict[str, str] = {}  # entry point name -> "distribution version"


class _BuiltinPresets:
    """The built-in importer presets (sources/presets/*), offered through `register_presets`."""

    @hooks.hookimpl
    def register_presets(self):
        from .sources import presets

        presets.load_builtin()
        return {name: fn for name, fn in presets.PRESETS.items() if name not in _plugin_presets}


def manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built-ins first, then entry points in name order)."""
    global _manager
    if _manager is not None:
        return _manager
    pm = pluggy.PluginManager(hooks.PROJECT)
    pm.add_hookspecs(hooks)
    pm.register(_BuiltinPresets(), name="flowsite.presets")
    for mod in BUILTIN_MODULES:
        pm.register(importlib.import_module(mod), name=mod)
    for ep in sorted(importlib.metadata.entry_points(group=hooks.ENTRY_POINT_GROUP), key=lambda e: e.name):
        if pm.has_plugin(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
            _installed[ep.name] = f"{ep.dist.name} {ep.dist.version}" if ep.dist else ep.value
        except Exception as exc:  # noqa: BLE001 - any import or validation failure of a third-party plugin
            raise BuildError(problems=[Problem(f"cannot load plugin {ep.name!r} ({ep.value}): {type(exc).__name__}: {exc}",
                                               hint="fix or uninstall the plugin package (pip uninstall ...)")]) from None
    _manager = pm
    return pm


def reset() -> None:
    """Forget the loaded plugins (the next call rediscovers entry points)."""
    global _manager
    _manager = None
    _installed.clear()


def installed() -> dict[str, str]:
    """Third-party plugins loaded from entry points: name -> "distribution version"."""
    manager()
    return dict(_installed)


def outside_plugins(builtin: set[str]) -> bool:
    """Whether a plugin other than the `builtin` ones is registered. Before the manager is made,
    that is whether a plugin package is installed: answered without importing the built-in
    plugins (and polars with them), for `uptodate.quick_start`."""
    if _manager is None:
        return any(True for _ in importlib.metadata.entry_points(group=hooks.ENTRY_POINT_GROUP))
    return bool(set(names()) - builtin)


def names() -> list[str]:
    """Registered plugin names, built-ins first."""
    return [n for n, _ in manager().list_name_plugin()]


def _impls(hook: str) -> list:
    # pluggy calls the last registered first; we run built-ins first, in registration order.
    return list(getattr(manager().hook, hook).get_hookimpls())


def _call(impl, hook: str, kwargs: dict[str, Any]) -> Any:
    args = {k: kwargs[k] for k in impl.argnames}
    try:
        return impl.function(**args)
    except FlowsiteError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's bug is reported as the plugin's, not ours
        if impl.plugin_name in BUILTIN_MODULES or impl.plugin_name == "flowsite.presets":
            raise
        raise BuildError(problems=[Problem(f"plugin {impl.plugin_name!r} failed in hook {hook}: {type(exc).__name__}: {exc}",
                                           hint="this is a problem in the plugin; report it to its authors")]) from exc


def chain(hook: str, item: Any, **kwargs: Any) -> Any:
    """Run a stage hook (`on_*`): each implementation may return a replacement of `item`."""
    name = _ITEM_ARG[hook]
    for impl in _impls(hook):
        out = _call(impl, hook, {**kwargs, name: item})
        if out is not None:
            item = out
    return item


_ITEM_ARG = {"on_config": "config", "on_sources": "datasets", "on_scorecard": "model", "on_page_context": "context"}


def collect(hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """(plugin name, result) of every implementation that returned something, built-ins first."""
    out = []
    for impl in _impls(hook):
        r = _call(impl, hook, kwargs)
        if r is not None:
            out.append((impl.plugin_name, r))
    return out


def metric_definitions(config) -> list:
    """Every MetricDef from every plugin (built-ins first). Raises on an id registered twice."""
    seen: dict[str, str] = {}
    defs = []
    problems = []
    for plugin, result in collect("register_metrics", config=config):
        for d in result:
            if d.id in seen:
                problems.append(Problem(f"metric id {d.id!r} is defined by both {seen[d.id]!r} and {plugin!r}",
                                        hint="metric ids must be unique; rename one (metrics as code come from flowsite.yml `metrics:`)"))
                continue
            seen[d.id] = plugin
            defs.append(d)
    if problems:
        raise BuildError("aborted: conflicting metric definitions", problems=problems)
    return defs


FIGURE_COLUMNS = ("value_stream", "metric", "period", "value", "n")


def figures(config, frames, periods, known: set[str]) -> list:
    """Figures frames returned by every plugin's `compute_figures`, checked against the registered metric ids."""
    import polars as pl

    out = []
    for plugin, df in collect("compute_figures", config=config, frames=frames, periods=periods):
        missing = [c for c in FIGURE_COLUMNS if not isinstance(df, pl.DataFrame) or c not in df.columns]
        if missing:
            raise BuildError(problems=[Problem(f"plugin {plugin!r} returned figures without the columns {', '.join(missing)}",
                                               hint="compute_figures returns a polars DataFrame: value_stream, metric, period, value, n")])
        unknown = sorted(set(df.get_column("metric").unique().to_list()) - known)
        if unknown:
            raise BuildError(problems=[Problem(f"plugin {plugin!r} returned figures for unregistered metric(s) {', '.join(map(repr, unknown))}",
                                               hint="return their MetricDef from register_metrics")])
        out.append(df.select(FIGURE_COLUMNS))
    return out


def install_presets(config=None) -> None:
    """Make every plugin's presets available to `sources.<dataset>.format`. Given the build's
    `config`, with no plugin package installed and no source naming a preset, there is nothing to
    install: the built-in presets are imported when a source names one (`sources.load`)."""
    from .sources import presets

    if config is not None and not outside_plugins(BUILTIN_PLUGINS):
        from .sources.load import is_preset

        if not any(is_preset(spec) for spec in config.sources.values()):
            return
    taken: dict[str, str] = {}
    for plugin, result in collect("register_presets"):
        for name, fn in result.items():
            if name in taken and presets.PRESETS.get(name) is not fn:
                raise BuildError(problems=[Problem(f"source preset {name!r} is registered by both {taken[name]!r} and {plugin!r}", hint="uninstall one of the plugins")])
            taken[name] = plugin
            if plugin != "flowsite.presets":
                presets.PRESETS[name] = fn
                _plugin_presets.add(name)
