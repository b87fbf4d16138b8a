"""Database sources: a DuckDB file, a dbt model's relation, or PostgreSQL, each read into polars.

- `duckdb: file.duckdb` with `table:` (a table or view, optionally `schema.table`) or `query:`; opened
  read-only, so a running dbt or flowsite build elsewhere is not disturbed.
- `dbt_ref: model`: the relation that `dbt build` made for the model (see `sources/dbt.py`).
- `postgres: postgresql://user@host/db` (or `env:NAME` for a URI kept in an environment variable)
  with `table:` or `query:`, read through the ADBC PostgreSQL driver (`pip install flowsite[postgres]`).

Rows keep their database types; `__row` is the 1-based position in the result, `__file` the table.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl

from ..config import Config, SourceSpec
from ..errors import Problem, SourceError
from ._model import FILE, ROW, RawFrame
from .dbt import resolve


def quote_ident(name: str) -> str:
    """`schema.table` -> `"schema"."table"` (each part quoted, embedded quotes doubled)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _sql(spec: SourceSpec) -> str:
    return spec.query if spec.query else f"SELECT * FROM {quote_ident(spec.table or '')}"


def _finish(df: pl.DataFrame, spec: SourceSpec, shown: str) -> RawFrame:
    df = df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64), pl.lit(shown).alias(FILE))
    return RawFrame(frame=df, origin=shown, timezone=spec.timezone, date_format=spec.date_format)


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def read_duckdb(path: Path, sql: str, spec: SourceSpec, shown: str) -> RawFrame:
    try:
        import duckdb
    except ImportError:
        raise SourceError(problems=[Problem("DuckDB sources need the duckdb package", key=f"sources.{spec.dataset}.duckdb", hint="pip install 'flowsite[duckdb]'")]) from None
    if not path.is_file():
        raise SourceError(problems=[Problem("DuckDB file not found", file=str(path), key=f"sources.{spec.dataset}", hint="paths are relative to the project folder")])
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise SourceError(problems=[Problem(f"cannot open as DuckDB: {_short(exc)}", file=str(path))]) from None
    try:
        df = pl.read_database(sql, connection=con)
    except duckdb.CatalogException as exc:
        tables = sorted(f"{s}.{t}" for s, t in con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall())
        raise SourceError(problems=[Problem(f"no such table or column: {_short(exc)}", file=shown, key=f"sources.{spec.dataset}", hint="tables: " + ", ".join(tables[:15]))]) from None
    except (duckdb.Error, pl.exceptions.PolarsError) as exc:
        raise SourceError(problems=[Problem(f"the query failed: {_short(exc)}", file=shown, key=f"sources.{spec.dataset}.query")]) from None
    finally:
        con.close()
    return _finish(df, spec, shown)


def postgres_uri(spec: SourceSpec) -> str:
    uri = spec.postgres or ""
    if uri.startswith("env:"):
        name = uri[4:]
        uri = os.environ.get(name, "")
        if not uri:
            raise SourceError(problems=[Problem(f"the environment variable {name} is not set", key=f"sources.{spec.dataset}.postgres", hint=f"export {name}=postgresql://user:password@host:5432/db")])
    return uri


def redact(uri: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", uri)


def read_postgres(uri: str, sql: str, spec: SourceSpec, shown: str) -> RawFrame:
    try:
        import adbc_driver_postgresql  # noqa: F401 - polars loads it by name
    except ImportError:
        raise SourceError(problems=[Problem("PostgreSQL sources need the ADBC driver", key=f"sources.{spec.dataset}.postgres", hint="pip install 'flowsite[postgres]'")]) from None
    try:
        df = pl.read_database_uri(sql, uri, engine="adbc")
    except Exception as exc:  # noqa: BLE001 - the driver raises its own error types; all mean "could not read"
        raise SourceError(problems=[Problem(f"cannot read from PostgreSQL: {_short(exc)}", file=redact(uri), key=f"sources.{spec.dataset}", hint="check the server is up, the URI, and the table or query")]) from None
    return _finish(df, spec, shown)


def read(config: Config, spec: SourceSpec) -> RawFrame:
    """Read a dataset whose source is `duckdb`, `dbt_ref` or `postgres`."""
    if spec.dbt_ref:
        rel = resolve(config, spec.dbt_ref, spec.dataset)
        sql = spec.query or f"SELECT * FROM {quote_ident(rel.schema)}.{quote_ident(rel.identifier)}"
        if rel.kind == "duckdb":
            return read_duckdb(rel.path, sql, spec, rel.shown)
        return read_postgres(rel.uri, sql, spec, rel.shown)
    if spec.duckdb:
        path = Path(spec.duckdb) if Path(spec.duckdb).is_absolute() else config.resolve(spec.duckdb)
        return read_duckdb(path, _sql(spec), spec, f"{spec.duckdb}:{spec.table or 'query'}")
    uri = postgres_uri(spec)
    return read_postgres(uri, _sql(spec), spec, f"{redact(uri)}:{spec.table or 'query'}")
