"""Per-project themes: project templates and static files win; `default:` extends a built-in template."""
from __future__ import annotations

from pathlib import Path

import pytest

from flowsite import build
from flowsite.errors import BuildError


def _with_theme(project: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = project / "theme" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    cfg = project / "flowsite.yml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\ntheme:\n  custom_dir: theme\n", encoding="utf-8")
    return project


def test_project_templates_and_assets_override_the_builtin_theme(sample_project: Path, tmp_path: Path):
    _with_theme(sample_project, {
        # Extends the built-in page template and adds to one block, keeping the rest.
        "templates/page.html": '{% extends "default:page.html" %}{% block content %}<p class="house-note">Internal use</p>{{ super() }}{% endblock %}',
        # Replaces the metrics index outright.
        "templates/metrics.html": '{% extends "base.html" %}{% block content %}<h1>Our metrics</h1>{% endblock %}',
        "static/flowsite.css": "body { color: rebeccapurple; }\n",
        "static/house.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>\n",
    })
    out = tmp_path / "site"
    build(sample_project, out=out, version="v1")
    page = (out / "v1" / "pages" / "quarter-review" / "index.html").read_text(encoding="utf-8")
    assert '<p class="house-note">Internal use</p>' in page
    assert "Fund test automation" in page  # the built-in block's body is still there
    assert '<nav class="breadcrumbs"' in page  # and the rest of the built-in template
    metrics = (out / "v1" / "metrics" / "index.html").read_text(encoding="utf-8")
    assert "<h1>Our metrics</h1>" in metrics and "metric-groups" not in metrics
    assert (out / "v1" / "assets" / "flowsite.css").read_text() == "body { color: rebeccapurple; }\n"
    assert (out / "v1" / "assets" / "house.svg").exists()
    assert (out / "v1" / "assets" / "flowsite.js").exists()  # built-in assets not overridden stay
    # Templates the project did not override come from the built-in theme.
    assert 'class="cards"' in (out / "v1" / "index.html").read_text(encoding="utf-8")


def test_a_syntax_error_in_a_project_template_names_the_file(sample_project: Path, tmp_path: Path):
    _with_theme(sample_project, {"templates/page.html": '{% extends "default:page.html" %}{% block content %}{% if %}{% endblock %}'})
    with pytest.raises(BuildError) as exc:
        build(sample_project, out=tmp_path / "site", version="v1")
    text = str(exc.value) + " ".join(str(p) for p in exc.value.problems)
    assert "template syntax error" in text and "page.html" in text
