"""flowsite.yml validation: every problem at once, with file, line, dotted key, expected/got and a hint."""
from __future__ import annotations

from pathlib import Path

import pytest

from flowsite.config import load_config
from flowsite.errors import ConfigError
from tests.conftest import write_project

BASE = """
name: Acme
period: month
value_streams:
  - id: web
    name: Web
"""


def problems(tmp_path: Path, text: str, **kw) -> list[str]:
    write_project(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path, **kw)
    return [p.format() for p in exc.value.problems]


def test_minimal_config_loads_with_defaults(tmp_path: Path):
    write_project(tmp_path, BASE)
    c = load_config(tmp_path)
    assert (c.name, c.period, c.window, c.timezone, c.benchmark, c.profile) == ("Acme", "month", 12, "UTC", "2024", "flowsite")
    assert c.value_streams[0].id == "web" and c.output_dir == (tmp_path / "site").resolve()
    assert c.statuses["in progress"] == "active" and c.types["bug"] == "defect"


def test_all_errors_reported_at_once_with_lines(tmp_path: Path):
    msgs = problems(tmp_path, """
name: Acme
period: montly
window: "12"
timezone: Europe/Berln
value_streams:
  - id: Web Shop
""")
    text = "\n".join(msgs)
    assert len(msgs) == 4, text
    assert "flowsite.yml:2: period: expected one of week, month, quarter, got text 'montly'" in text
    assert "did you mean 'month'?" in text
    assert "flowsite.yml:3: window: expected a whole number, got text '12'" in text and "remove the quotes" in text
    assert "flowsite.yml:4: timezone:" in text and "Europe/Berlin" in text
    assert "flowsite.yml:6: value_streams[0].id: expected a lowercase id" in text


def test_unknown_key_warns_and_strict_makes_it_fatal(tmp_path: Path):
    write_project(tmp_path, BASE + "colour: blue\n")
    c = load_config(tmp_path)
    assert [w.key for w in c.warnings] == ["colour"]
    msgs = problems(tmp_path, BASE + "colour: blue\n", strict=True)
    assert "flowsite.yml:6: colour: unknown key, ignored" in msgs[0]


def test_malformed_yaml_names_line(tmp_path: Path):
    msgs = problems(tmp_path, "name: Acme\nvalue_streams:\n  - id: web\n   name: bad indent\n")
    assert msgs[0].startswith(str(tmp_path / "flowsite.yml") + ":4: invalid YAML") or ":4: invalid YAML" in msgs[0]


def test_cross_checks(tmp_path: Path):
    msgs = problems(tmp_path, """
name: Acme
benchmark: custom
sources:
  deployments: {columns: {id: ID}}
  deploys: data/d.csv
value_streams:
  - {id: web, investment: {feature: 0.5, defect: 0.2}}
  - {id: web}
""")
    text = "\n".join(msgs)
    assert "sources.deploys: expected a canonical dataset name" in text and "did you mean 'deployments'?" in text
    assert "sources.deployments: expected one of path, duckdb, dbt_ref or postgres" in text
    assert "value_streams[0].investment: expected shares summing to 1, got 0.7" in text
    assert "value_streams[1].id: expected a unique id" in text
    assert "benchmark_thresholds: expected tier bounds" in text


def test_missing_config_has_hint(tmp_path: Path):
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path)
    assert "no flowsite.yml" in exc.value.format() and "flowsite init" in exc.value.format()


def test_a_parsed_config_is_kept_in_the_memo_and_read_back_the_same(tmp_path: Path):
    memo = tmp_path / "memo"
    bad = BASE.replace("period: month", "period: fortnight")  # a schema error reported with its line, from the memo too
    write_project(tmp_path / "p", bad)
    with pytest.raises(ConfigError) as fresh:
        load_config(tmp_path / "p", memo=memo)
    assert len(list(memo.glob("*.pickle"))) == 1
    with pytest.raises(ConfigError) as kept:
        load_config(tmp_path / "p", memo=memo)
    assert [p.format() for p in kept.value.problems] == [p.format() for p in fresh.value.problems]
    assert any(p.line for p in kept.value.problems)

    write_project(tmp_path / "p", BASE)  # an edit is parsed afresh
    assert load_config(tmp_path / "p", memo=memo).value_streams == load_config(tmp_path / "p").value_streams
    assert len(list(memo.glob("*.pickle"))) == 2
    for f in memo.glob("*.pickle"):
        f.write_bytes(b"damaged")
    assert load_config(tmp_path / "p", memo=memo).value_streams == load_config(tmp_path / "p").value_streams  # damaged: parsed again


def test_the_memo_keeps_a_few_configs(tmp_path: Path):
    from flowsite.config import MEMO_KEEP

    memo = tmp_path / "memo"
    for i in range(MEMO_KEEP + 3):
        write_project(tmp_path / "p", BASE.replace("Acme", f"Acme {i}"))
        assert load_config(tmp_path / "p", memo=memo).name == f"Acme {i}"
    assert len(list(memo.glob("*.pickle"))) == MEMO_KEEP
