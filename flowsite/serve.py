"""`flowsite serve`: build into a temporary folder, serve it on 127.0.0.1, rebuild when the project changes.

The site's CSP allows only same-origin scripts, so live reload is a small served file
(`/__flowsite/livereload.js`) that polls `/__flowsite/status` and reloads when the build number
changes; only this dev server injects it. A failed build keeps the last good site served and shows
the error in the terminal and as a banner on the page. Watching is by polling (no extra dependency).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import threading
import time
import traceback
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from markupsafe import escape

from .errors import BuildError, FlowsiteError, Problem

PREFIX = "/__flowsite/"
SCRIPT_TAG = b'<script src="/__flowsite/livereload.js" defer></script>'
IGNORED_DIRS = {"site", "__pycache__", "node_modules", ".git", ".venv", "venv", "target", "logs"}
PORT_TRIES = 20

LIVERELOAD_JS = r"""// flowsite dev server: reload on rebuild, show build errors. Not part of a built site.
(function () {
  "use strict";
  var seen = null;
  function banner(message) {
    var el = document.getElementById("flowsite-dev-error");
    if (!message) { if (el) { el.remove(); } return; }
    if (!el) {
      el = document.createElement("div");
      el.id = "flowsite-dev-error";
      el.setAttribute("role", "alert");
      var s = el.style;
      s.position = "fixed"; s.left = "0"; s.right = "0"; s.top = "0"; s.zIndex = "2147483647";
      s.maxHeight = "60vh"; s.overflow = "auto"; s.margin = "0"; s.padding = "1em 1.5em";
      s.background = "#7f1d1d"; s.color = "#fff"; s.font = "14px/1.45 ui-monospace, monospace"; s.whiteSpace = "pre-wrap";
      document.body.insertBefore(el, document.body.firstChild);
    }
    el.textContent = "flowsite: the last build failed; showing the last good site.\n\n" + message;
  }
  function poll() {
    fetch("/__flowsite/status", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (seen === null) { seen = s.build; }
        else if (s.build !== seen) { window.location.reload(); return; }
        banner(s.error);
      })
      .catch(function () { /* server restarting or stopped: keep polling */ })
      .then(function () { window.setTimeout(poll, 700); });
  }
  poll();
})();
"""

ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>flowsite: build failed</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'">
{script}</head>
<body><main><h1>The site could not be built</h1><p>Fix the problem below and save: this page reloads when a build succeeds.</p>
<pre id="flowsite-build-error">{error}</pre></main></body></html>
"""

Echo = Callable[[str], None]


def format_error(exc: BaseException) -> str:
    if isinstance(exc, FlowsiteError):
        return exc.format()
    return "".join(traceback.format_exception(exc)).rstrip() + "\n(an internal error in flowsite or a plugin)"


def snapshot(roots: list[Path], skip: set[Path] = frozenset()) -> dict[str, tuple[int, int]]:
    """path -> (mtime_ns, size) of every file under the roots (hidden and output folders skipped)."""
    out: dict[str, tuple[int, int]] = {}
    for root in roots:
        if root.is_file():
            st = root.stat()
            out[str(root)] = (st.st_mtime_ns, st.st_size)
            continue
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in IGNORED_DIRS and Path(dirpath, d).resolve() not in skip)
            for f in files:
                if f.startswith(".") or f.endswith((".pyc", "~", ".swp")):
                    continue
                p = os.path.join(dirpath, f)
                try:
                    st = os.stat(p)
                except FileNotFoundError:
                    continue
                out[p] = (st.st_mtime_ns, st.st_size)
    return out


class DevServer:
    """Build, serve and watch one project. `start()` returns once the first build has finished."""

    def __init__(self, project: str | Path = ".", *, host: str = "127.0.0.1", port: int = 8000, interval: float = 0.4, echo: Echo = print):
        self.project = Path(project)
        self.host, self.requested_port = host, port
        self.interval = interval
        self.echo = echo
        self.tmp = Path(tempfile.mkdtemp(prefix="flowsite-serve-"))
        self.out = self.tmp / "site"
        self.build_number = 0
        self.error: str | None = None
        self.has_site = False
        self.watch_roots: list[Path] = [self.project.resolve()]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._skip: set[Path] = {self.tmp.resolve()}

    # ---- building -------------------------------------------------------------------------
    def rebuild(self) -> bool:
        from ._build import build
        from .uptodate import data_dirs

        with self._lock:
            t0 = time.perf_counter()
            try:
                result = build(self.project, out=self.out)
            except Exception as exc:  # noqa: BLE001 - any failure keeps the last good site
                self.error = format_error(exc)
                self.echo(f"Build failed ({time.perf_counter() - t0:.1f} s); still serving the last good site:\n{self.error}")
                return False
            self.watch_roots = self._roots(data_dirs)
            self.error = None
            self.has_site = True
            self.build_number += 1
            self.echo(f"Built version {result.version} in {time.perf_counter() - t0:.1f} s ({len(result.files)} files).")
            return True

    def _roots(self, data_dirs) -> list[Path]:
        """The project folder plus data folders outside it (from the config that just built)."""
        from .config import load_config

        try:
            cfg = load_config(self.project)
        except FlowsiteError:  # edited again since the build: keep watching what we watched
            return self.watch_roots
        self._skip = {self.tmp.resolve(), cfg.output_dir}
        return [cfg.project_dir] + [d for d in data_dirs(cfg) if not d.is_relative_to(cfg.project_dir)]

    # ---- serving --------------------------------------------------------------------------
    def _bind(self) -> ThreadingHTTPServer:
        handler = partial(_Handler, server_state=self, directory=str(self.out))
        port = self.requested_port
        last: OSError | None = None
        for candidate in ([port] if port == 0 else range(port, port + PORT_TRIES)):
            try:
                return ThreadingHTTPServer((self.host, candidate), handler)
            except OSError as exc:
                if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                    raise BuildError(problems=[Problem(f"cannot listen on {self.host}:{candidate}: {exc.strerror}", hint="pass another --host or --port")]) from None
                last = exc
        raise BuildError(problems=[Problem(f"ports {port} to {port + PORT_TRIES - 1} on {self.host} are all in use ({last.strerror if last else ''})", hint="pass --port with a free port")])

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self.requested_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> "DevServer":
        self._httpd = self._bind()
        # Snapshot before the first build, so an edit made while it runs (or right after start()
        # returns, before the watcher thread is scheduled) still triggers a rebuild.
        from .uptodate import data_dirs

        self.watch_roots = self._roots(data_dirs)
        first = snapshot(self.watch_roots, self._skip)
        self.rebuild()
        t = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="flowsite-serve", daemon=True)
        w = threading.Thread(target=self._watch, args=(first,), name="flowsite-watch", daemon=True)
        self._threads = [t, w]
        t.start()
        w.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for t in self._threads:
            t.join(timeout=5)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "DevServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- watching -------------------------------------------------------------------------
    def _watch(self, before: dict[str, tuple[int, int]]) -> None:
        while not self._stop.wait(self.interval):
            now = snapshot(self.watch_roots, self._skip)
            if now == before:
                continue
            # Let an editor finish writing (several files, or write-then-rename) before building.
            time.sleep(self.interval / 2)
            now = snapshot(self.watch_roots, self._skip)
            changed = sorted(set(now.items()) ^ set(before.items()))
            names = sorted({Path(p).name for p, _ in changed})
            self.echo(f"Changed: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}; rebuilding")
            roots = list(self.watch_roots)
            self.rebuild()
            # Compare with what this build read, so an edit made during the build triggers another.
            before = now if self.watch_roots == roots else snapshot(self.watch_roots, self._skip)

    def status(self) -> dict:
        return {"build": self.build_number, "error": self.error}


class _Handler(SimpleHTTPRequestHandler):
    """Static files from the build folder, HTML with the live-reload script, and the status endpoint."""

    def __init__(self, *args, server_state: DevServer, **kwargs):
        self.state = server_state
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        pass  # quiet: the terminal shows builds, not requests

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == PREFIX + "status":
            return self._send(HTTPStatus.OK, json.dumps(self.state.status()).encode(), "application/json")
        if path == PREFIX + "livereload.js":
            return self._send(HTTPStatus.OK, LIVERELOAD_JS.encode(), "text/javascript; charset=utf-8")
        if not self.state.has_site:
            page = ERROR_PAGE.format(script=SCRIPT_TAG.decode(), error=escape(self.state.error or "building ..."))
            return self._send(HTTPStatus.SERVICE_UNAVAILABLE, page.encode(), "text/html; charset=utf-8")
        fs = Path(self.translate_path(path))
        if fs.is_dir():
            if not path.endswith("/"):
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header("Location", path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            fs = fs / "index.html"
        if fs.suffix == ".html" and fs.is_file():
            html = fs.read_bytes()
            i = html.find(b"</head>")
            html = html[:i] + SCRIPT_TAG + html[i:] if i >= 0 else html + SCRIPT_TAG
            return self._send(HTTPStatus.OK, html, "text/html; charset=utf-8")
        if not fs.exists():
            nf = Path(self.directory) / "404.html"
            body = nf.read_bytes() if nf.is_file() else b"not found"
            return self._send(HTTPStatus.NOT_FOUND, body, "text/html; charset=utf-8")
        return super().do_HEAD() if self.command == "HEAD" else super().do_GET()
