"""Site hygiene: reproducible output, sitemap and canonical links, 404 page, root redirect, .nojekyll."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from flowsite._build import build

from ..conftest import tree_digest
from .conftest import BASE_URL, sample_copy


@pytest.mark.parametrize("epoch", [None, "1764547200"])
def test_two_builds_of_the_same_inputs_are_byte_identical(tmp_path: Path, monkeypatch, epoch):
    if epoch is None:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    project = sample_copy(tmp_path / "p")
    a, b = tmp_path / "a", tmp_path / "b"
    build(project, out=a, version="2026-11")
    build(project, out=b, version="2026-11")
    da, db = tree_digest(a), tree_digest(b)
    assert len(da) > 100 and da == db
    stamp = re.search(r'"generated_at": "([^"]+)"', (a / "2026-11" / "data" / "metrics.json").read_text()).group(1)
    assert stamp == ("2025-12-01T00:00:00Z" if epoch else "2026-11-30T23:59:59Z")


def test_sitemap_canonical_404_and_redirect(three_version_site: Path):
    site = three_version_site
    locs = [e.text for e in ET.parse(site / "sitemap.xml").getroot().iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert locs
    assert all(u.startswith(BASE_URL) for u in locs) and len(locs) == len(set(locs))
    newest = [u for u in locs if u.startswith(BASE_URL + "2026-11/")]
    assert BASE_URL + "2026-11/" in newest and BASE_URL + "2026-11/compare/" in newest
    assert BASE_URL + "2026-9/" in locs and not any("/latest/" in u for u in locs)
    # Every page has an absolute canonical link to its own versioned URL (not the alias).
    for rel in ("2026-11/index.html", "2026-11/compare/index.html", "latest/value-streams/checkout/index.html"):
        html = (site / rel).read_text()
        want = BASE_URL + "2026-11/" + rel.split("/", 1)[1].removesuffix("index.html")
        assert f'<link rel="canonical" href="{want}">' in html
    notfound = (site / "404.html").read_text()
    assert f'href="{BASE_URL}latest/index.html"' in notfound and f'href="{BASE_URL}2026-9/index.html"' in notfound
    root = (site / "index.html").read_text()
    target = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', root).group(1)
    assert (site / target).is_file()  # works from disk as well as on a server
    assert (site / ".nojekyll").is_file()
