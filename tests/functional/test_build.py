"""End-to-end builds of the sample project through the real CLI entry point."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urljoin, urlparse

from tests.conftest import run_cli, tree_digest


def test_two_versions_keep_the_first_byte_for_byte(sample_project: Path, tmp_path: Path):
    site = tmp_path / "site"
    r = run_cli("build", sample_project, "--out", site, "--version", "2026-10")
    assert r.exit_code == 0, r.output
    before = tree_digest(site / "2026-10")
    r = run_cli("build", sample_project, "--out", site, "--version", "2026-11")
    assert r.exit_code == 0, r.output
    versions = json.loads((site / "versions.json").read_text())
    assert [v["version"] for v in versions] == ["2026-11", "2026-10"]
    assert versions[0]["aliases"] == ["latest"] and versions[1]["aliases"] == []
    assert tree_digest(site / "2026-10") == before
    assert tree_digest(site / "latest") == tree_digest(site / "2026-11")
    assert (site / ".nojekyll").exists() and (site / "404.html").exists()
    assert 'url=latest/index.html' in (site / "index.html").read_text()
    doc = json.loads((site / "2026-11" / "data" / "metrics.json").read_text())
    assert doc["metadata"]["schema_version"] == "flowsite/metrics/v1"
    assert (site / "2026-11" / "data" / "figures.csv").read_text().startswith("value_stream,metric,period,value,n")


def test_config_typo_exits_1_and_keeps_site(sample_project: Path, tmp_path: Path):
    site = tmp_path / "site"
    assert run_cli("build", sample_project, "--out", site, "--version", "2026-10").exit_code == 0
    before = tree_digest(site)
    cfg = sample_project / "flowsite.yml"
    cfg.write_text(cfg.read_text().replace("window: 12", "window: twelve"))
    r = run_cli("build", sample_project, "--out", site, "--version", "2026-11")
    assert r.exit_code == 1
    assert re.search(r"flowsite\.yml:\d+: window: expected a whole number", r.output), r.output
    assert tree_digest(site) == before


LINK = re.compile(r'(?:href|src|data-spec)="([^"]+)"')


def test_every_internal_link_resolves_and_nothing_is_external(sample_project: Path, tmp_path: Path):
    site = tmp_path / "site"
    assert run_cli("build", sample_project, "--out", site).exit_code == 0
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for url in LINK.findall(html):
            parsed = urlparse(url)
            if parsed.scheme in ("http", "https") or url.startswith("//"):
                assert 'rel="canonical"' in html and url in re.findall(r'rel="canonical" href="([^"]+)"', html), f"{page}: external {url}"
                continue
            if parsed.scheme or url.startswith("#"):
                continue
            # Served under a sub-path (/<repo>/), a relative link must stay inside the site.
            base = "http://example.test/repo/" + str(page.relative_to(site))
            target = urlparse(urljoin(base, parsed.path)).path
            assert target.startswith("/repo/"), f"{page}: {url} leaves the site"
            rel = target[len("/repo/"):]
            resolved = site / rel
            if rel.endswith("/") or rel == "":
                resolved = resolved / "index.html"
            assert resolved.exists(), f"{page.relative_to(site)}: broken link {url}"
