"""`flowsite serve`: a real server on 127.0.0.1 that rebuilds on change and keeps the last good site."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from flowsite.serve import DevServer
from tests.workflow.project import small_project


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def status(server: DevServer) -> dict:
    return json.loads(get(server.url + "__flowsite/status")[1])


def wait_for(predicate, timeout: float = 30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the dev server")


def touch_later(path: Path, text: str) -> None:
    # Some file systems keep mtimes in coarse steps; make sure the change is visible to the poller.
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_serve_rebuilds_reports_errors_and_keeps_the_last_good_site(tmp_path):
    project = small_project(tmp_path / "p")
    logs: list[str] = []
    with DevServer(project, port=0, interval=0.1, echo=logs.append) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert status(server) == {"build": 1, "error": None}
        code, html = get(server.url + "latest/pages/about/")
        assert code == 200 and "The first version of the about page." in html
        # Live reload is a same-origin script the CSP allows, injected only here.
        assert '<script src="/__flowsite/livereload.js" defer></script></head>' in html
        assert "flowsite-dev-error" in get(server.url + "__flowsite/livereload.js")[1]
        assert not list(project.rglob("*.html")), "serve must never write into the project"

        touch_later(project / "pages" / "about.md", "# About\n\nThe second version.\n")
        wait_for(lambda: status(server)["build"] == 2)
        assert "The second version." in get(server.url + "latest/pages/about/")[1]

        cfg = project / "flowsite.yml"
        good = cfg.read_text()
        touch_later(cfg, good.replace("period: month", "period: fortnight"))
        st = wait_for(lambda: (s := status(server))["error"] and s)
        assert st["build"] == 2
        assert "period: expected one of week, month, quarter, got text 'fortnight'" in st["error"]
        assert any("Build failed" in line and "fortnight" in line for line in logs)
        code, html = get(server.url + "latest/pages/about/")
        assert code == 200 and "The second version." in html  # the last good site stays served

        touch_later(cfg, good)
        wait_for(lambda: status(server) == {"build": 3, "error": None})
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url, timeout=2)


def test_first_build_failing_shows_an_error_page(tmp_path):
    project = small_project(tmp_path / "p")
    (project / "flowsite.yml").write_text("name: [unclosed\n")
    with DevServer(project, port=0, interval=0.1, echo=lambda m: None) as server:
        code, html = get(server.url + "latest/")
        assert code == 503
        assert "invalid YAML" in html and "/__flowsite/livereload.js" in html
        assert "<script>" not in html  # no inline script under the CSP
        small_project(project)  # a valid config again (the file's size changes, so the poller sees it)
        wait_for(lambda: status(server) == {"build": 1, "error": None})
        assert get(server.url + "latest/")[0] == 200


def test_next_free_port_when_taken(tmp_path):
    project = small_project(tmp_path / "p")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with DevServer(project, port=port, interval=0.1, echo=lambda m: None) as server:
            assert server.port != port and port < server.port <= port + 20
            assert get(server.url)[0] == 200


def test_cli_serve_runs_until_interrupted(tmp_path):
    project = small_project(tmp_path / "p")
    proc = subprocess.Popen([sys.executable, "-m", "flowsite", "serve", str(project), "--port", "0"], stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        lines = []
        url = None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("Serving "):
                url = line.split(" at ", 1)[1].split(" ", 1)[0]
                break
        assert url, "".join(lines)
        assert get(url + "latest/")[0] == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert "Stopped." in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_serve_without_a_project_is_exit_1(tmp_path):
    from tests.conftest import run_cli

    r = run_cli("serve", tmp_path / "missing", "--port", "0")
    assert r.exit_code == 1 and "project folder not found" in r.stderr


def test_watch_snapshot_skips_outputs_and_hidden_folders(tmp_path):
    from flowsite.serve import snapshot

    project = small_project(tmp_path / "p")
    for rel in ("site/latest/index.html", ".git/HEAD", "public/x.html", "data/.~lock.csv#"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text("x")
    seen = {Path(p).relative_to(project).as_posix() for p in snapshot([project], {(project / "public").resolve()})}
    assert seen == {"flowsite.yml", "data/work_items.csv", "data/deployments.csv", "pages/about.md"}


def test_data_outside_the_project_is_watched(tmp_path):
    project = small_project(tmp_path / "p")
    external = tmp_path / "exports"
    external.mkdir()
    (project / "data" / "deployments.csv").rename(external / "deployments.csv")
    cfg = project / "flowsite.yml"
    cfg.write_text(cfg.read_text().replace("deployments: data/deployments.csv", "deployments: ../exports/deployments.csv"))
    with DevServer(project, port=0, interval=0.1, echo=lambda m: None) as server:
        assert external.resolve() in server.watch_roots
        doc = json.loads(get(server.url + "latest/data/metrics.json")[1])
        before = [f for f in doc["figures"] if f["metric"] == "deployment_frequency" and f["value_stream"] == "shop" and f["period"] == "2026-09"][0]
        assert before["n"] == 4
        with (external / "deployments.csv").open("a") as fh:
            fh.write("d-9,shop,production,success,2026-09-29T18:00:00Z\n")
        wait_for(lambda: status(server)["build"] == 2)
        doc = json.loads(get(server.url + "latest/data/metrics.json")[1])
        after = [f for f in doc["figures"] if f["metric"] == "deployment_frequency" and f["value_stream"] == "shop" and f["period"] == "2026-09"][0]
        assert after["n"] == 5
