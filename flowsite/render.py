"""Render the site model into HTML files with the Jinja2 theme (autoescaped everywhere).

Returns {relative path: bytes} for one version folder; writing is the build's job. Charts are
drawn to inline SVG here and their specs saved beside the pages for the interactive mode.
"""
from __future__ import annotations

import contextlib
import html
import itertools
import json
import re
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np
import polars as pl
from jinja2 import ChoiceLoader, Environment, FileSystemBytecodeCache, FileSystemLoader, PrefixLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError, select_autoescape
from markupsafe import Markup, escape

from . import __version__, charts, plugins
from .cache import _atomic_write, _digest, cache_dir, code_digest
from .config import Config
from .digests import row_hashes
from .errors import BuildError, Problem
from .metrics import CATALOGUE, GROUPS, WINDOW, MetricDef, MetricResults
from .metrics._frame import stream_blocks
from .pages import SHORTCODE, Page, expand_shortcodes
from .scorecard import Figure, Scorecard, SiteModel, Status, format_value
from .vega_bundle import ASSET, vega_bundle

SVG_TOKEN = re.compile(rb"\x00svg:([0-9a-f]{64})\x00")
BUILTIN = Path(str(resources.files("flowsite") / "themes" / "default"))
CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'"


@dataclass(frozen=True)
class Theme:
    dirs: tuple[Path, ...]  # most specific first

    def static_files(self) -> dict[str, Path]:
        """Relative path -> file, project overrides winning over the built-in theme."""
        out: dict[str, Path] = {}
        for d in reversed(self.dirs):
            static = d / "static"
            if static.is_dir():
                for f in sorted(static.rglob("*")):
                    if f.is_file():
                        out[str(f.relative_to(static))] = f
        return dict(sorted(out.items()))


def load_theme(config: Config) -> Theme:
    dirs = []
    if config.theme_dir is not None:
        if not config.theme_dir.is_dir():
            raise BuildError(problems=[Problem("theme folder not found", file=str(config.config_file), key="theme.custom_dir", hint="create the folder or remove the key")])
        dirs.append(config.theme_dir)
    dirs.append(BUILTIN)
    return Theme(tuple(dirs))


def metric_page(metric: str) -> str | None:
    """The id of the metric page a figure links to: its own, its parent's (percentiles, shares), or none (KPIs)."""
    mdef = CATALOGUE.get(metric)
    if mdef is None:
        return None
    return mdef.parent or mdef.id


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    """Compiled templates, kept in flowsite's cache folder: compiling them is a fifth of a small
    rebuild. Jinja checks each entry against its template's source and its own version."""
    folder = cache_dir()
    if folder is None:
        return None
    path = folder / "jinja"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(path))


def _chart_templates_path() -> Path | None:
    """Where the chart templates Altair made are kept, for this flowsite and Altair."""
    folder = cache_dir()
    return None if folder is None else folder / "charts" / f"templates-{_digest(code_digest(), charts.altair_version())[:32]}.pickle"


def environment(theme: Theme) -> Environment:
    loaders = [FileSystemLoader(str(d / "templates")) for d in theme.dirs]
    # `default:page.html` always names the built-in template, so an override can extend it.
    loader = ChoiceLoader([PrefixLoader({"default": FileSystemLoader(str(BUILTIN / "templates"))}, delimiter=":"), *loaders])
    env = Environment(loader=loader, autoescape=select_autoescape(["html", "xml", "svg"], default=True, default_for_string=True), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, bytecode_cache=_bytecode_cache())
    env.filters["fmt"] = lambda v, unit="", decimals=1: format_value(v, unit, decimals)
    env.filters["tojson_attr"] = lambda v: json.dumps(v, sort_keys=True)
    env.globals["GROUPS"] = GROUPS
    env.globals["metric_page"] = metric_page
    env.globals["Status"] = Status
    return env


# The columns of the figures frame a metric page's chart is drawn from, and the column their row
# hashes are kept in while the metric pages render.
CHART_ROWS = ["value_stream", "period", "value", "n"]
_HASH = "\0rows"


class Renderer:
    def __init__(self, config: Config, model: SiteModel, results: MetricResults, pages: list[Page], version: str, version_title: str, known_versions: list[dict]):
        self.config, self.model, self.results, self.pages = config, model, results, pages
        self.version, self.version_title = version, version_title
        self.theme = load_theme(config)
        self.env = environment(self.theme)
        self.files: dict[str, bytes] = {}
        self.search: list[dict] = []
        self.known_versions = known_versions
        self.names = {c.id: c.name for c in model.scorecards}
        self.svg = charts.ChartRenderer()
        self._wi_parts: dict[str, pl.DataFrame] | None = None
        self.reuse = None  # incremental.StreamCache: scorecard pages of unchanged value streams
        self._rows = None  # the macros of _rows.html
        # Value streams' rows kept as UTF-8 (see _piece): a token in the page's text, put in once the page is bytes.
        self._spliced: list[bytes] = []
        self._nonce = secrets.token_hex(8)  # a token no data can hold
        self._splice_token = re.compile(rb"\x00rows:" + self._nonce.encode() + rb":(\d+)\x00")
        self._by_metric: dict[str, pl.DataFrame] | None = None  # the figures frame's rows per metric (see render_metric)
        self._figure_of: dict[tuple[str, str], Figure] = {}  # (value stream, metric) -> its figure on the scorecard
        self._narratives: dict[str, list[dict]] = {}
        self._plain: list[tuple[str, str]] | None = None  # each page's text without tags, and lower-cased
        self._keyed: list[tuple[str, str, str, str, str]] = []  # charts made afresh for keyed_chart: (key, spec, svg key, title, description)

    # ---- helpers -------------------------------------------------------------------------
    def chart(self, spec: charts.Spec, root: str, keep: str | None = None) -> Markup:
        """`keep`: the key `reuse` keeps the drawn chart under (see keyed_chart)."""
        spec_json = json.dumps(spec, sort_keys=True, default=str)
        drawn = self.svg.add(spec_json, spec)
        if keep is not None:
            self._keyed.append((keep, spec_json, drawn, spec.get("title", ""), spec.get("description", "")))
        return self._figure(spec_json, drawn, spec.get("title", ""), spec.get("description", ""), root)

    def keyed_chart(self, name: str, rows: pl.DataFrame, parts: list, make: Callable[[], charts.Spec], root: str, columns: list[str] | None = None) -> Markup:
        """`chart(make())`, or with `reuse`, the same chart from the last build when it was made
        from the same `rows` (their `columns`; with those given, the rows carry their hashes, see
        render_metric) and `parts` (`make` is a function of those, the config and the code)."""
        key = None
        if self.reuse is not None:
            key = self.reuse.chart_key(name, rows, parts, hashes=rows.get_column(_HASH) if columns else None, columns=columns)
        got = self.reuse.chart(key) if key is not None else None
        if got is not None:
            spec_json, svg, title, desc = got
            return self._figure(spec_json, self.svg.drawn_already(spec_json, svg), title, desc, root)
        return self.chart(make(), root, keep=key)

    def _figure(self, spec_json: str, drawn: str, title: str, desc: str, root: str) -> Markup:
        cid = charts.chart_id(spec_json)
        path = f"charts/{cid}.json"
        if path not in self.files:
            self.files[path] = (spec_json + "\n").encode()
        # A token now, the SVG once every chart of the version is known (each distinct one drawn once): see _fill_charts.
        svg = f"\x00svg:{drawn}\x00"
        # The SVG carries the visible title; the caption names it for screen readers and holds the
        # description as text anyone can open (and the button the script reveals).
        return Markup(
            f'<figure class="chart" data-spec="{escape(root + path)}" id="{cid}" aria-label="{escape(title)}">'
            f'<div class="chart-svg" role="img" aria-label="{escape(desc)}">{svg}</div>'
            f'<figcaption><details><summary>Chart as text</summary><p>{escape(desc)}</p></details>'
            f'<button type="button" class="chart-interactive" aria-label="Interactive view of {escape(title)}" hidden>Interactive</button></figcaption></figure>'
        )

    def render(self, template: str, path: str, **ctx: Any) -> None:
        depth = path.count("/")
        root = "../" * depth
        try:
            tpl = self.env.get_template(template)
        except TemplateNotFound as exc:
            raise BuildError(problems=[Problem(f"template not found: {exc.name}", hint="check theme.custom_dir and the template name")]) from None
        except TemplateSyntaxError as exc:
            raise BuildError(problems=[Problem(f"template syntax error: {exc.message}", file=exc.filename or exc.name, line=exc.lineno)]) from None
        context = dict(
            site=self.model, config=self.config, version=self.version, version_title=self.version_title, root=root, path=path,
            pages=self.pages, flowsite_version=__version__, csp=CSP, known_versions=self.known_versions,
            canonical=(self.config.base_url.rstrip("/") + f"/{self.version}/" + path.removesuffix("index.html")) if self.config.base_url else None,
            sparkline=self.sparkline, metric_rows=self.metric_rows, overview_cards=self.overview_cards, comparison_rows=self.comparison_rows, **ctx,
        )
        html = tpl.render(**plugins.chain("on_page_context", context, config=self.config, template=template, path=path))
        data = html.encode("utf-8")
        if self._spliced:
            pieces, self._spliced = self._spliced, []
            data = self._splice_token.sub(lambda m: pieces[int(m.group(1))], data)
        self.files[path] = data

    # One value stream's rows of the pages that span value streams are macros of `_rows.html`;
    # when `reuse` keeps the value stream's scorecard page, its rows come from the last build too.
    def metric_rows(self, rows: list[tuple[Scorecard, Figure]], mdef: MetricDef, root: str, benchmark: str) -> Markup:
        return Markup("".join(self._piece("metric_row", card, [fig.metric, mdef.id, root, benchmark], fig, mdef, root, benchmark) for card, fig in rows))

    def overview_cards(self, cards: list[Scorecard], benchmark: str, sparkline) -> Markup:
        return Markup("".join(self._piece("overview_card", card, [i, benchmark], i, benchmark, sparkline) for i, card in enumerate(cards, 1)))

    def comparison_rows(self, comparison, table: str, root: str, *args: Any) -> Markup:
        """The rows of the compare page's table of `changes` or `trends` (the macro `change_rows` or
        `trend_rows` of `_rows.html`), a value stream at a time. A value stream's rows are made from
        its scorecard and the earlier versions' documents (`comparison.sources` stands for those),
        so they are kept from the last build with its scorecard page while both are the same."""
        macro = {"changes": "change_rows", "trends": "trend_rows"}[table]
        groups = [(vs, list(items)) for vs, items in itertools.groupby(getattr(comparison, table), key=lambda x: x.value_stream)]
        # One piece per value stream: split otherwise, a piece would stand for only part of its rows.
        keyed = comparison.sources is not None and len({vs for vs, _ in groups}) == len(groups)
        cards = {card.id: card for card in self.model.scorecards} if keyed else {}
        extra = (self.sparkline,) if table == "trends" else ()
        out = []
        for vs, items in groups:
            card = cards.get(vs)
            if card is not None:
                out.append(self._piece(macro, card, [comparison.sources, root, *args], items, root, *args, *extra))
            else:
                out.append(str(getattr(self._rows_module(), macro)(None, items, root, *args, *extra)))
        return Markup("".join(out))

    def _rows_module(self) -> Any:
        if self._rows is None:
            self._rows = self.env.get_template("_rows.html").module
        return self._rows

    def _piece(self, name: str, card: Scorecard, parts: list, *args: Any) -> str:
        """The macro NAME of `_rows.html` for CARD; PARTS: what else than the scorecard it is made from.

        Kept by `reuse`, the rows stay UTF-8 from the last build's pack to the page: the text holds a
        token that `render` replaces (at scale the overview and the metric pages are megabytes of
        rows, each decoded, copied into the page's text and encoded again)."""
        key = self.reuse.fragment_key(card, self.narrative(card), name, parts) if self.reuse is not None else None
        if key is None:
            return str(getattr(self._rows_module(), name)(card, *args))
        data = self.reuse.fragment(key)
        if data is None:
            data = self.reuse.fragments[key] = str(getattr(self._rows_module(), name)(card, *args)).encode("utf-8")
        self._spliced.append(data)
        return f"\x00rows:{self._nonce}:{len(self._spliced) - 1}\x00"

    def sparkline(self, fig: Figure) -> Markup:
        values = [p.value for p in fig.trend]
        label = f"{fig.name} trend: " + ", ".join(f"{p.period} {format_value(p.value, fig.unit, fig.decimals)}" for p in fig.trend if p.value is not None)
        return Markup(charts.sparkline(values, label=label))

    # ---- pages ---------------------------------------------------------------------------
    def scorecard_charts(self, card: Scorecard, root: str) -> dict[str, Markup | None]:
        # Every key present (None = no chart), so templates under StrictUndefined can test any of them.
        out: dict[str, Markup | None] = dict.fromkeys(("flow_time", "cfd", "distribution", "tiers", "vsm"))
        wi = self._stream_items(card.id)
        if wi is not None:
            period_start = self.results.periods[0].start
            done = wi.filter(pl.col("done_at").is_not_null() & (pl.col("done_at") >= period_start))
            days = done.get_column("flow_time_days").drop_nulls().to_numpy()
            if len(days):
                ft = card.figure("flow_time")
                p85 = card.figure("flow_time_p85")
                out["flow_time"] = self.chart(charts.flow_time_spec(days, card.name, ft.window_value if ft else None, p85.window_value if p85 else None), root)
            daily = self._cfd_rows(wi)
            if daily:
                out["cfd"] = self.chart(charts.cfd_spec(daily, card.name), root)
        actual = {t: (f.window_value if (f := card.figure(f"flow_distribution_{t}")) else None) for t in ("feature", "defect", "risk", "debt")}
        if any(v is not None for v in actual.values()) or card.investment:
            out["distribution"] = self.chart(charts.distribution_spec(actual, card.investment, card.name), root)
        if card.tier:
            out["tiers"] = self.chart(charts.tier_spec(card, self.model.benchmark_title), root)
        if card.map is not None:
            out["vsm"] = self.chart(charts.vsm_spec(card), root)
        return out

    def _cfd_rows(self, wi: pl.DataFrame) -> list[dict]:
        if wi.height == 0:
            return []
        tz = self.config.timezone
        start = self.results.periods[0].start
        days = pl.date_range(start.date(), self.results.as_of, "1w", eager=True).to_list()
        # Items started / done by each day: binary searches in the sorted dates (one pass per stream).
        s = np.sort(wi.get_column("start").dt.convert_time_zone(tz).dt.date().drop_nulls().to_numpy())
        d = np.sort(wi.get_column("done_at").dt.convert_time_zone(tz).dt.date().drop_nulls().to_numpy())
        at = np.array(days, dtype="datetime64[D]")
        started_by = np.searchsorted(s, at, side="right").tolist()
        done_by = np.searchsorted(d, at, side="right").tolist()
        rows = []
        for day, started, done in zip(days, started_by, done_by):
            rows.append({"day": day.isoformat(), "state": "done", "items": done, "order": 0})
            rows.append({"day": day.isoformat(), "state": "in progress", "items": max(started - done, 0), "order": 1})
        return rows

    def _stream_items(self, vs_id: str) -> pl.DataFrame | None:
        """The work-item drill-down of one value stream (split once, not filtered per scorecard)."""
        wi = self.results.drilldown.get("work_items")
        if wi is None:
            return None
        if self._wi_parts is None:
            # The drill-down is sorted by value stream first: one slice per value stream, no copies.
            blocks = stream_blocks(wi)
            if len({vs for vs, _, _ in blocks}) == len(blocks):
                self._wi_parts = {vs: wi.slice(start, n) for vs, start, n in blocks}
            else:
                self._wi_parts = {k[0]: v for k, v in wi.partition_by("value_stream", as_dict=True, maintain_order=True).items()}
        return self._wi_parts.get(vs_id, wi.clear())

    def run(self, comparison=None) -> dict[str, bytes]:
        m = self.model
        self.render("compare.html", "compare/index.html", comparison=comparison)
        self.render("overview.html", "index.html", cards=m.scorecards)
        self.search.append({"title": "Overview", "kind": "page", "url": "index.html", "text": m.description})
        for card in m.scorecards:
            path = f"value-streams/{card.id}/index.html"
            self.scorecard_page(card, path)
            self.search.append({"title": card.name, "kind": "value stream", "url": path.removesuffix("index.html"), "text": " ".join([card.description, *card.owners])})
        for mdef in self._metric_pages():
            path = f"metrics/{mdef.id}/index.html"
            self.render_metric(mdef, path)
            self.search.append({"title": mdef.name, "kind": "metric", "url": path.removesuffix("index.html"), "text": mdef.definition})
        self.render("metrics.html", "metrics/index.html", metric_defs=self._metric_pages())
        for page in self.pages:
            path = f"pages/{page.slug}/index.html"
            body = Markup(expand_shortcodes(page, lambda kind, vs, metric: self.shortcode(kind, vs, metric, "../../")))
            self.render("page.html", path, page=page, body=body, has_h1=bool(re.search(r"<h1[\s>]", page.body)))
            self.search.append({"title": page.title, "kind": "page", "url": path.removesuffix("index.html"), "text": ""})
        self.files["search.json"] = (json.dumps(self.search, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        self._fill_charts()
        return self.files

    def scorecard_page(self, card: Scorecard, path: str) -> None:
        """One value stream's page: its bytes and chart specs from the last build when `reuse` (an
        incremental.StreamCache) has them for the same inputs, else rendered (and offered to `reuse`)."""
        root = "../../"
        narrative = self.narrative(card)
        cached = self.reuse.lookup(card, narrative) if self.reuse is not None else None
        if cached is not None:
            for rel, data in cached.items():
                self.files.setdefault(rel, data)
            return
        before = set(self.files)
        self.render("scorecard.html", path, card=card, charts=self.scorecard_charts(card, root), narrative=narrative)
        if self.reuse is not None:
            self.reuse.rendered(card, narrative, path, sorted(set(self.files) - before - {path}))

    def _fill_charts(self) -> None:
        drawn = self.svg.svgs()
        for key, spec_json, svg_key, title, desc in self._keyed:
            self.reuse.keep_chart(key, (spec_json, drawn[svg_key], title, desc))
        svgs = {k.encode(): v.encode("utf-8") for k, v in drawn.items()}
        for path, data in self.files.items():
            if b"\x00svg:" in data:
                self.files[path] = SVG_TOKEN.sub(lambda m: svgs[m.group(1)], data)

    def _metric_pages(self) -> list:
        ids = sorted(self.results.figures.get_column("metric").unique().to_list())
        children = {CATALOGUE[m].parent for m in ids if m in CATALOGUE}
        return [d for m, d in CATALOGUE.items() if d.parent is None and (m in ids or m in children)]

    def render_metric(self, mdef, path: str) -> None:
        root = "../../"
        labels = list(self.model.periods)
        ids = [mdef.id] + [m.id for m in CATALOGUE.values() if m.parent == mdef.id]
        if self._by_metric is None:  # one pass for every metric page
            figures = self.results.figures
            if self.reuse is not None:  # the rows' hashes for the charts' keys, made once for every metric
                figures = figures.with_columns(row_hashes(figures.select(CHART_ROWS)).alias(_HASH))
            self._by_metric = {key[0]: part for key, part in figures.partition_by("metric", as_dict=True).items()}
            self._trending = set(figures.filter(pl.col("period") != WINDOW).get_column("metric").unique().to_list())
            self._figure_of = {}
            for card in self.model.scorecards:
                for fig in card.figures:
                    self._figure_of.setdefault((card.id, fig.metric), fig)  # the first, as Scorecard.figure
        chart = None
        main_id = ids[0] if mdef.id != "flow_distribution" else "flow_distribution_feature"
        main = self._by_metric.get(main_id)
        if main is not None and main_id in self._trending:
            title = mdef.name if mdef.id != "flow_distribution" else "Share of features"
            chart = self.keyed_chart("metric", main, [title, mdef.unit, labels], lambda: charts.metric_spec(title, mdef.unit, main, self.names, labels), root,
                                     columns=CHART_ROWS)
        rows = []
        for card in self.model.scorecards:
            for mid in ids:
                fig = self._figure_of.get((card.id, mid))
                if fig is not None:
                    rows.append((card, fig))
        drill = {"lead_time": "changes", "deployment_frequency": "deployments", "change_failure_rate": "deployments", "recovery_time": "incidents", "rework_rate": "deployments"}.get(mdef.id)
        if mdef.group == "flow":
            drill = "work_items"
        excl = self.results.exclusions.get(mdef.id, {})
        # Each value stream's n over the window, joined here: a template loop over 500 value streams
        # on each of fifteen pages was a tenth of a rebuild's render stage at scale.
        own = [(card, fig) for card, fig in rows if fig.metric == mdef.id]
        # Escaped whole: escaping goes character by character, and ", " and the counts need none.
        window_n = {"total": sum(fig.window_n for _, fig in own), "each": escape(", ".join(f"{card.name} {fig.window_n}" for card, fig in own))} if own else None
        self.render("metric.html", path, mdef=mdef, chart=chart, rows=rows, window_n=window_n, drill=drill if drill in self.results.drilldown else None,
                    exclusions={k: v for k, v in excl.items() if v})

    def narrative(self, card: Scorecard) -> list[dict]:
        """Pages that embed one of this value stream's figures or name it, with the first such paragraph."""
        got = self._narratives.get(card.id)
        if got is None:
            got = self._narratives[card.id] = self._narrative(card)
        return got

    def _narrative(self, card: Scorecard) -> list[dict]:
        if self._plain is None:
            self._plain = [(text, text.translate(_CASELESS_ASCII).lower()) for text in (re.sub(r"<[^>]+>", " ", page.body) for page in self.pages)]
        out = []
        for page, (plain, lowered) in zip(self.pages, self._plain):
            # Containment first: compiling two patterns per value stream was most of this at 500 of them.
            if card.id not in page.body and card.name.isascii() and card.name.lower() not in lowered:
                continue
            code = re.compile(r"\[\[(?:figure|chart)\s+" + re.escape(card.id) + r"\s")
            name = re.compile(r"\b" + re.escape(card.name) + r"\b", re.I)
            if not (code.search(page.body) or name.search(plain)):
                continue
            excerpt = ""
            for para in re.findall(r"<p>(.*?)</p>", page.body, re.S):
                if code.search(para) or name.search(para):
                    text = SHORTCODE.sub(lambda m: self._shortcode_text(m.group(1), m.group(2), m.group(3)), para)
                    excerpt = " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())
                    break
            out.append({"slug": page.slug, "title": page.title, "excerpt": excerpt if len(excerpt) <= 280 else excerpt[:277].rsplit(" ", 1)[0] + "…"})
        return out

    def _shortcode_text(self, kind: str, vs: str, metric: str) -> str:
        card = self.model.scorecard(vs)
        fig = _find_figure(card, metric) if card else None
        return fig.display if (fig is not None and kind == "figure") else ""

    def shortcode(self, kind: str, vs: str, metric: str, root: str) -> str | None:
        card = self.model.scorecard(vs)
        if card is None:
            return None
        fig = _find_figure(card, metric)
        if fig is None:
            return None
        if kind == "figure":
            return str(Markup('<span class="inline-figure status-{}"><strong>{}</strong> <span class="muted">({}, n = {})</span></span>').format(fig.status.value, fig.display, fig.period, fig.n))
        spec = charts.trend_spec(fig, card.name)
        return str(self.chart(spec, root))


# The letters a case-insensitive pattern matches to an ASCII one (İ ı ſ K): mapped before lower-casing,
# so that an ASCII name's containment in the lower-cased text is necessary for a match.
_CASELESS_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _find_figure(card: Scorecard, metric: str) -> Figure | None:
    """A metric id, or a KPI by its own id (`conversion` for `kpi.conversion`)."""
    return card.figure(metric) or (card.figure(f"kpi.{metric}") if not metric.startswith("kpi.") else None)


def render_version(config: Config, model: SiteModel, results: MetricResults, pages: list[Page], version: str, version_title: str,
                   known_versions: list[dict], comparison=None, reuse=None) -> tuple[dict[str, bytes], Theme]:
    """Every file of one version folder (pages, charts, search index, assets) as {relative path: bytes};
    `reuse` (an incremental.StreamCache) supplies unchanged scorecard pages."""
    r = Renderer(config, model, results, pages, version, version_title, known_versions)
    r.reuse = reuse
    templates = _chart_templates_path()
    if templates is not None:
        with contextlib.suppress(OSError):
            charts.load_templates(templates.read_bytes())
    files = r.run(comparison)
    made = charts.templates_made() if templates is not None else None
    if made is not None:
        with contextlib.suppress(OSError):
            _atomic_write(templates, made)
    for rel, src in r.theme.static_files().items():
        files[f"assets/{rel}"] = src.read_bytes()
    # Loaded only when a reader clicks "Interactive"; a project may ship its own in theme/static/.
    files.setdefault(f"assets/{ASSET}", vega_bundle())
    return files, r.theme


def render_root(config: Config, theme: Theme, default: str, versions_json: str, sitemap_urls: list[str]) -> dict[str, bytes]:
    """Files at the top of OUT: redirect, 404, sitemap, .nojekyll."""
    env = environment(theme)
    redirect = env.get_template("redirect.html").render(target=f"{default}/", default=default, title=config.title, csp=CSP)
    base = config.base_url.rstrip("/") + "/" if config.base_url else ""
    notfound = env.get_template("404.html").render(title=config.title, default=default, csp=CSP, versions=json.loads(versions_json), base=base)
    files = {"index.html": redirect.encode(), "404.html": notfound.encode(), ".nojekyll": b"", "versions.json": versions_json.encode()}
    if config.base_url:
        base = config.base_url.rstrip("/") + "/"
        body = "".join(f"<url><loc>{escape(base + u)}</loc></url>" for u in sitemap_urls)
        files["sitemap.xml"] = f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>\n'.encode()
    return files
