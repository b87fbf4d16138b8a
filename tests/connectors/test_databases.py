"""DuckDB files and a real PostgreSQL server as sources, read through polars."""
from __future__ import annotations

import duckdb
import pytest

from flowsite.config import load_config
from flowsite.errors import ConfigError, SourceError
from flowsite.sources import load_sources

from ._support import utc


def make_duckdb(path):
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE SCHEMA mart;
        CREATE TABLE mart.deploys (deploy_id INTEGER, stream VARCHAR, env VARCHAR, finished TIMESTAMP, finished_tz TIMESTAMPTZ);
        INSERT INTO mart.deploys VALUES
          (1, 'checkout', 'production', TIMESTAMP '2026-03-02 10:00:00', TIMESTAMPTZ '2026-03-02 10:00:00+00'),
          (2, 'checkout', 'staging',    TIMESTAMP '2026-03-03 11:30:00', TIMESTAMPTZ '2026-03-03 11:30:00+00'),
          (3, 'search',   'production', TIMESTAMP '2026-03-04 09:15:00', TIMESTAMPTZ '2026-03-04 09:15:00+00');
        CREATE VIEW mart.fct_deployments AS SELECT CAST(deploy_id AS VARCHAR) AS id, stream AS value_stream, env AS environment, finished AS finished_at FROM mart.deploys;
    """)
    con.close()


def test_duckdb_table_or_view(project):
    make_duckdb(project.root / "warehouse.duckdb")
    frame, report = project.load("deployments", {"duckdb": "warehouse.duckdb", "table": "mart.fct_deployments"})
    # Naive TIMESTAMPs are wall-clock time in the source's time zone (Europe/Berlin here).
    assert frame.sort("id").to_dicts() == [
        {"id": "1", "value_stream": "checkout", "finished_at": utc(2026, 3, 2, 9, 0), "environment": "production"},
        {"id": "2", "value_stream": "checkout", "finished_at": utc(2026, 3, 3, 10, 30), "environment": "staging"},
        {"id": "3", "value_stream": "search", "finished_at": utc(2026, 3, 4, 8, 15), "environment": "production"},
    ]
    assert report.origin == "warehouse.duckdb:mart.fct_deployments"


def test_duckdb_query_with_typed_columns_and_mapping(project):
    make_duckdb(project.root / "warehouse.duckdb")
    source = {"duckdb": "warehouse.duckdb", "query": "SELECT deploy_id, stream, finished_tz FROM mart.deploys WHERE env = 'production'", "columns": {"id": "deploy_id", "value_stream": "stream", "finished_at": "finished_tz"}}
    frame, _ = project.load("deployments", source)
    assert frame.sort("id").select("id", "finished_at").rows() == [("1", utc(2026, 3, 2, 10, 0)), ("3", utc(2026, 3, 4, 9, 15))]


def test_duckdb_unknown_table_lists_the_tables(project):
    make_duckdb(project.root / "warehouse.duckdb")
    project.write({"deployments": {"duckdb": "warehouse.duckdb", "table": "fct_deployments"}})
    with pytest.raises(SourceError) as err:
        load_sources(load_config(project.root))
    text = err.value.format()
    assert "fct_deployments" in text and "mart.fct_deployments" in text  # the hint names what exists


def test_duckdb_needs_a_table_or_query(project):
    project.write({"deployments": {"duckdb": "warehouse.duckdb"}})
    with pytest.raises(ConfigError) as err:
        load_config(project.root)
    assert "expected `table` or `query` beside `duckdb`" in err.value.format()


def test_postgres_table_and_query(project, postgres_uri, monkeypatch):
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(postgres_uri) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS lake CASCADE")
        cur.execute("CREATE SCHEMA lake")
        cur.execute("CREATE TABLE lake.incidents (id BIGINT, vs TEXT, created TIMESTAMPTZ, resolved TIMESTAMPTZ, sev TEXT)")
        cur.execute("""INSERT INTO lake.incidents VALUES
            (11, 'checkout', '2026-03-02 11:00:00+00', '2026-03-02 12:30:00+00', 'P1'),
            (12, 'search', '2026-03-03 06:00:00+02', NULL, NULL),
            (13, 'checkout', '2026-03-05 10:00:00+00', '2026-03-05 09:00:00+00', 'P2')""")
        con.commit()
    monkeypatch.setenv("FLOWSITE_PG_URI", postgres_uri)
    columns = {"id": "id", "value_stream": "vs", "created_at": "created", "resolved_at": "resolved", "severity": "sev"}
    frame, report = project.load("incidents", {"postgres": "env:FLOWSITE_PG_URI", "table": "lake.incidents", "columns": columns})
    assert frame.sort("id").to_dicts() == [
        {"id": "11", "value_stream": "checkout", "created_at": utc(2026, 3, 2, 11, 0), "resolved_at": utc(2026, 3, 2, 12, 30), "severity": "P1"},
        {"id": "12", "value_stream": "search", "created_at": utc(2026, 3, 3, 4, 0), "resolved_at": None, "severity": None},
    ]
    assert report.dropped == {"resolved_at before created_at": 1}
    frame, _ = project.load("incidents", {"postgres": "env:FLOWSITE_PG_URI", "query": "SELECT id, vs AS value_stream, created AS created_at FROM lake.incidents WHERE sev = 'P1'"})
    assert frame.to_dicts() == [{"id": "11", "value_stream": "checkout", "created_at": utc(2026, 3, 2, 11, 0)}]


def test_postgres_errors_hide_the_password(project, postgres_uri):
    bad = postgres_uri.replace("flowsite@", "flowsite:s3cret@").rsplit(":", 1)[0] + ":1/postgres"  # nothing listens on port 1
    project.write({"incidents": {"postgres": bad, "table": "lake.incidents"}})
    with pytest.raises(SourceError) as err:
        load_sources(load_config(project.root))
    text = err.value.format()
    assert "cannot read from PostgreSQL" in text and "s3cret" not in text


def test_postgres_uri_from_an_unset_variable(project, monkeypatch):
    monkeypatch.delenv("FLOWSITE_NO_SUCH_URI", raising=False)
    project.write({"incidents": {"postgres": "env:FLOWSITE_NO_SUCH_URI", "table": "x"}})
    with pytest.raises(SourceError) as err:
        load_sources(load_config(project.root))
    assert "FLOWSITE_NO_SUCH_URI is not set" in err.value.format()


def test_dbt_ref_needs_a_dbt_section(project):
    project.write({"deployments": {"dbt_ref": "fct_deployments"}})
    with pytest.raises(ConfigError) as err:
        load_config(project.root)
    assert "sources.deployments.dbt_ref: expected a top-level `dbt:` section" in err.value.format()


def test_dbt_shorthand_and_missing_project(project):
    project.write({"deployments": {"dbt_ref": "fct_deployments"}}, dbt="warehouse")
    assert load_config(project.root).dbt.project_dir == (project.root / "warehouse").resolve()
    project.write({"deployments": {"dbt_ref": "fct_deployments"}}, dbt={"target": "prod"})
    with pytest.raises(ConfigError) as err:
        load_config(project.root)
    assert "dbt.project: expected the folder of the dbt project" in err.value.format()


def test_exposures_need_a_dbt_ref(project):
    from ..conftest import run_cli

    project.write({"deployments": {"path": "data/github/checkout/deployments.json", "format": "github"}}, dbt="warehouse")
    result = run_cli("dbt-exposures", project.root)
    assert result.exit_code == 1 and "no dataset reads a dbt model" in result.output


def test_dbt_ref_to_a_postgres_target(project, postgres_uri, monkeypatch):
    """A dbt-postgres project: the manifest names the relation, profiles.yml the server (password from env_var)."""
    import json
    from urllib.parse import urlparse

    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(postgres_uri) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS analytics CASCADE")
        cur.execute("CREATE SCHEMA analytics")
        cur.execute("CREATE TABLE analytics.deployments_v2 (id TEXT, value_stream TEXT, finished_at TIMESTAMPTZ, environment TEXT)")
        cur.execute("INSERT INTO analytics.deployments_v2 VALUES ('d1', 'checkout', '2026-03-02 10:00:00+00', 'production'), ('d2', 'search', '2026-03-03 10:00:00+00', 'prod')")
        con.commit()
    url = urlparse(postgres_uri)
    dbt_dir = project.root / "lake"
    (dbt_dir / "target").mkdir(parents=True)
    (dbt_dir / "dbt_project.yml").write_text("name: lake\nprofile: lake\nconfig-version: 2\n", encoding="utf-8")
    (dbt_dir / "profiles.yml").write_text(
        "lake:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n"
        f"      host: {url.hostname}\n      port: {url.port}\n      user: {url.username}\n"
        "      password: \"{{ env_var('LAKE_PASSWORD', '') }}\"\n      dbname: postgres\n      schema: analytics\n      threads: 1\n",
        encoding="utf-8")
    node = {"resource_type": "model", "name": "fct_deployments", "package_name": "lake", "database": "postgres", "schema": "analytics", "alias": "deployments_v2",
            "relation_name": '"postgres"."analytics"."deployments_v2"', "config": {"materialized": "table"}}
    manifest = {"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json", "project_name": "lake"}, "nodes": {"model.lake.fct_deployments": node}}
    (dbt_dir / "target" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    monkeypatch.setenv("LAKE_PASSWORD", "")
    frame, report = project.load("deployments", {"dbt_ref": "fct_deployments"}, dbt={"project": "lake"})
    assert report.origin == "dbt model fct_deployments (analytics.deployments_v2)"
    assert frame.sort("id").rows() == [("d1", "checkout", utc(2026, 3, 2, 10, 0), "production"), ("d2", "search", utc(2026, 3, 3, 10, 0), "prod")]
