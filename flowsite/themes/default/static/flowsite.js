// flowsite site script: version switcher, search, theme toggle, card filter/sort, interactive charts.
// Loaded with `defer`; the pages work fully without it. No inline scripts (strict CSP).
(function () {
  "use strict";
  var body = document.body;
  var root = body.getAttribute("data-root") || "";
  var current = body.getAttribute("data-version") || "";
  var pagePath = body.getAttribute("data-path") || "index.html";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- theme toggle -----------------------------------------------------------------------
  var toggle = document.querySelector(".theme-toggle");
  function applyTheme(t) {
    if (t) document.documentElement.setAttribute("data-theme", t); else document.documentElement.removeAttribute("data-theme");
    var dark = t ? t === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
    if (toggle) { toggle.setAttribute("aria-pressed", dark ? "true" : "false"); (toggle.querySelector(".tt-label") || toggle).textContent = dark ? "Light mode" : "Dark mode"; }
  }
  var saved = null;
  try { saved = localStorage.getItem("flowsite-theme"); } catch (e) { /* storage may be off */ }
  applyTheme(saved);
  // Following the system: keep the toggle's label right when the system scheme changes.
  var mq = window.matchMedia("(prefers-color-scheme: dark)");
  if (mq.addEventListener) mq.addEventListener("change", function () { if (!document.documentElement.getAttribute("data-theme")) applyTheme(null); });
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var dark = toggle.getAttribute("aria-pressed") === "true";
      var next = dark ? "light" : "dark";
      try { localStorage.setItem("flowsite-theme", next); } catch (e) { /* ignore */ }
      applyTheme(next);
    });
  }

  // ---- versions: switcher and old-version banner -------------------------------------------
  var select = document.getElementById("version-select");
  function fillVersions(list) {
    if (!select || !Array.isArray(list)) return;
    select.textContent = "";
    list.forEach(function (v) {
      var label = v.title + (v.aliases && v.aliases.length ? " (" + v.aliases.join(", ") + ")" : "");
      var o = el("option", { value: v.version }, label);
      if (v.version === current || (v.aliases || []).indexOf(current) >= 0) o.selected = true;
      select.appendChild(o);
    });
    var newest = list[0];
    var banner = document.querySelector(".version-banner");
    if (banner && newest && newest.version !== current && (newest.aliases || []).indexOf(current) < 0) {
      var mine = list.filter(function (v) { return v.version === current; })[0];
      banner.textContent = "You are viewing an older version (" + (mine ? mine.title : current) + "). The latest is ";
      var a = el("a", { href: root + "../" + newest.version + "/" + pagePath }, newest.title);
      banner.appendChild(a);
      banner.appendChild(document.createTextNode("."));
      banner.hidden = false;
    }
  }
  if (select) {
    fetch(root + "../versions.json").then(function (r) { return r.ok ? r.json() : null; }).then(fillVersions).catch(function () { /* file:// or offline */ });
    select.addEventListener("change", function () {
      var target = root + "../" + select.value + "/";
      // Keep the current page when the other version has it, else go to its overview.
      fetch(target + pagePath, { method: "HEAD" }).then(function (r) {
        window.location.href = target + (r.ok ? pagePath : "index.html");
      }).catch(function () { window.location.href = target + pagePath; });
    });
  }

  // ---- search -----------------------------------------------------------------------------
  var form = document.querySelector("form.search");
  if (form) {
    var input = document.getElementById("search-input");
    var results = document.getElementById("search-results");
    var index = null;
    form.hidden = false;
    function show(open) { results.hidden = !open; }
    form.addEventListener("submit", function (e) { e.preventDefault(); var first = results.querySelector("a"); if (first) window.location.href = first.href; });
    function load() {
      if (index) return Promise.resolve(index);
      return fetch(root + "search.json").then(function (r) { return r.json(); }).then(function (d) { index = d; return d; });
    }
    function score(it, q) {
      var t = it.title.toLowerCase();
      if (t === q) return 0;
      if (t.indexOf(q) === 0) return 1;
      if (t.indexOf(q) >= 0) return 2;
      return (it.text || "").toLowerCase().indexOf(q) >= 0 ? 3 : -1;
    }
    input.addEventListener("focus", load);
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      load().then(function (items) {
        results.textContent = "";
        if (!q) { show(false); return; }
        var hits = items.map(function (it) { return [score(it, q), it]; })
          .filter(function (p) { return p[0] >= 0; })
          .sort(function (a, b) { return a[0] - b[0]; })
          .slice(0, 12).map(function (p) { return p[1]; });
        hits.forEach(function (it) {
          var li = el("li");
          var a = el("a", { href: root + it.url });
          a.appendChild(el("span", {}, it.title));
          a.appendChild(el("span", { "class": "kind" }, it.kind));
          li.appendChild(a);
          results.appendChild(li);
        });
        if (!hits.length) results.appendChild(el("li", { "class": "none" }, "No match"));
        show(true);
      }).catch(function () { show(false); });
    });
    // Arrow keys move between the input and the results; Escape closes them.
    form.addEventListener("keydown", function (e) {
      var links = Array.prototype.slice.call(results.querySelectorAll("a"));
      var i = links.indexOf(document.activeElement);
      if (e.key === "ArrowDown" && links.length) { e.preventDefault(); links[Math.min(i + 1, links.length - 1)].focus(); }
      else if (e.key === "ArrowUp" && i >= 0) { e.preventDefault(); (i === 0 ? input : links[i - 1]).focus(); }
      else if (e.key === "Escape") { show(false); input.focus(); }
    });
    document.addEventListener("click", function (e) { if (!form.contains(e.target)) show(false); });
  }

  // ---- overview: filter and sort cards -----------------------------------------------------
  var controls = document.querySelector(".js-controls");
  var cards = document.getElementById("cards");
  if (controls && cards) {
    controls.hidden = false;
    var filter = document.getElementById("card-filter");
    var sort = document.getElementById("card-sort");
    var statusRank = { "off-track": 0, "at-risk": 1, "no-target": 2, "no-data": 2, "on-track": 3 };
    var tierRank = { elite: 0, high: 1, medium: 2, low: 3, "": 4 };
    function apply() {
      var q = filter.value.trim().toLowerCase();
      var items = Array.prototype.slice.call(cards.children);
      items.forEach(function (li) {
        var text = (li.getAttribute("data-name") + " " + li.getAttribute("data-owners")).toLowerCase();
        li.hidden = q && text.indexOf(q) < 0;
      });
      var key = sort.value;
      items.sort(function (a, b) {
        if (key === "name") return a.getAttribute("data-name").localeCompare(b.getAttribute("data-name"));
        if (key === "status") return statusRank[a.getAttribute("data-status")] - statusRank[b.getAttribute("data-status")];
        if (key === "tier") return tierRank[a.getAttribute("data-tier")] - tierRank[b.getAttribute("data-tier")];
        return +a.getAttribute("data-order") - +b.getAttribute("data-order");
      });
      items.forEach(function (li) { cards.appendChild(li); });
    }
    filter.addEventListener("input", apply);
    sort.addEventListener("change", apply);
  }

  // ---- interactive charts: the Vega bundle loads only when a reader asks -------------------
  var buttons = document.querySelectorAll(".chart-interactive");
  var bundle = null;
  function loadBundle() {
    if (bundle) return bundle;
    bundle = new Promise(function (resolve, reject) {
      var s = el("script", { src: root + "assets/vega/vega-bundle.js" });
      s.onload = function () { resolve(window.vegaEmbed); };
      s.onerror = reject;
      document.head.appendChild(s);
    });
    return bundle;
  }
  Array.prototype.forEach.call(buttons, function (btn) {
    var fig = btn.closest("figure.chart");
    if (!fig || !fig.getAttribute("data-spec")) return;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      btn.disabled = true;
      Promise.all([loadBundle(), fetch(fig.getAttribute("data-spec")).then(function (r) { return r.json(); })]).then(function (res) {
        var embed = res[0], spec = res[1];
        if (!embed) throw new Error("Vega bundle missing");
        var target = fig.querySelector(".chart-svg");
        // ast: Vega interprets expressions instead of compiling them with Function(): no 'unsafe-eval' needed.
        return embed(target, spec, { actions: false, renderer: "svg", ast: true });
      }).then(function () { btn.hidden = true; }).catch(function () { btn.disabled = false; btn.textContent = "Interactive view unavailable"; });
    });
  });
})();
