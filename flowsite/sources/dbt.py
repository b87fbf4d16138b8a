"""A dbt project as a source: resolve `dbt_ref: model` to the relation `dbt build` made, and where it lives.

Reads `dbt_project.yml` (profile, target-path), `<target-path>/manifest.json` (the model's database,
schema and alias) and the profile's output in `profiles.yml` (a DuckDB file path, or PostgreSQL
connection settings). `{{ env_var('NAME', 'default') }}` in profiles.yml is honoured.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from ..config import Config, DbtProject
from ..errors import Problem, SourceError

ENV_VAR = re.compile(r"""\{\{\s*env_var\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]*)['"]\s*)?\)\s*(?:\|\s*\w+\s*)?\}\}""")


@dataclass(frozen=True)
class Relation:
    """Where a dbt model's rows are: `kind` is duckdb (path) or postgres (uri)."""

    model: str
    kind: str
    database: str | None
    schema: str
    identifier: str
    path: Path | None = None
    uri: str | None = None

    @property
    def shown(self) -> str:
        return f"dbt model {self.model} ({self.schema}.{self.identifier})"


def _yaml(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(problems=[Problem(f"{what} not found", file=str(path), hint="check `dbt.project` in flowsite.yml")]) from None
    text = ENV_VAR.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), text)
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise SourceError(problems=[Problem(f"invalid YAML: {exc}", file=str(path))]) from None


def project_file(dbt: DbtProject) -> dict[str, Any]:
    return _yaml(dbt.project_dir / "dbt_project.yml", "dbt_project.yml")


def manifest(dbt: DbtProject) -> dict[str, Any]:
    target_path = project_file(dbt).get("target-path") or "target"
    path = dbt.project_dir / target_path / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(problems=[Problem("dbt has not built this project yet (no manifest.json)", file=str(path), hint="run `dbt build` (or `dbt run`) in the dbt project before flowsite")]) from None
    except json.JSONDecodeError as exc:
        raise SourceError(problems=[Problem(f"invalid JSON: {exc.msg}", file=str(path), hint="run `dbt build` again")]) from None


def model_nodes(man: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Model, seed and snapshot name -> manifest node (the root project's wins over a package's)."""
    root = man.get("metadata", {}).get("project_name")
    out: dict[str, dict[str, Any]] = {}
    for node in (man.get("nodes") or {}).values():
        if node.get("resource_type") not in ("model", "seed", "snapshot"):
            continue
        name = node.get("name")
        if name not in out or node.get("package_name") == root:
            out[name] = node
    return out


def _profile_output(dbt: DbtProject, profile: str) -> dict[str, Any]:
    dirs = [dbt.profiles_dir] if dbt.profiles_dir else []
    if os.environ.get("DBT_PROFILES_DIR"):
        dirs.append(Path(os.environ["DBT_PROFILES_DIR"]))
    dirs += [dbt.project_dir, Path.home() / ".dbt"]
    path = next((d / "profiles.yml" for d in dirs if (d / "profiles.yml").is_file()), None)
    if path is None:
        raise SourceError(problems=[Problem("no profiles.yml found", key="dbt.profiles_dir", hint="set `dbt.profiles_dir`, $DBT_PROFILES_DIR, or keep profiles.yml in the dbt project")])
    prof = _yaml(path, "profiles.yml").get(profile)
    if not isinstance(prof, dict):
        raise SourceError(problems=[Problem(f"expected a profile {profile!r} (named in dbt_project.yml), found none", file=str(path))])
    target = dbt.target or prof.get("target")
    output = (prof.get("outputs") or {}).get(target)
    if not isinstance(output, dict):
        raise SourceError(problems=[Problem(f"expected an output {target!r} in profile {profile!r}, found none", file=str(path), key="dbt.target", hint="outputs: " + ", ".join(prof.get("outputs") or {}))])
    return output


def resolve(config: Config, model: str, dataset: str) -> Relation:
    """The relation dbt built for `model`, and how to reach it."""
    dbt = config.dbt
    if dbt is None:
        raise SourceError(problems=[Problem("expected a top-level `dbt:` section", key=f"sources.{dataset}.dbt_ref")])
    nodes = model_nodes(manifest(dbt))
    node = nodes.get(model)
    if node is None:
        raise SourceError(problems=[Problem(f"expected a dbt model named {model!r}, found none in manifest.json", key=f"sources.{dataset}.dbt_ref", hint="models: " + ", ".join(sorted(nodes)[:20]))])
    if (node.get("config") or {}).get("materialized") == "ephemeral":
        raise SourceError(problems=[Problem(f"dbt model {model!r} is ephemeral, so it has no relation to read", key=f"sources.{dataset}.dbt_ref", hint="materialize it as a table or view")])
    output = _profile_output(dbt, project_file(dbt).get("profile") or "default")
    ident = node.get("alias") or node.get("name")
    kind = output.get("type")
    if kind == "duckdb":
        raw = str(output.get("path") or ":memory:")
        if raw == ":memory:" or raw.startswith("md:"):
            raise SourceError(problems=[Problem(f"the dbt target keeps DuckDB {raw!r}, which flowsite cannot open", key="dbt.target", hint="give the duckdb output a file `path`")])
        path = Path(raw).expanduser()
        if not path.is_absolute():
            # dbt-duckdb resolves a relative path from where dbt ran: the dbt project folder, or the
            # repository root with --project-dir. Take the first that exists.
            tried = [(base / path).resolve() for base in (dbt.project_dir, config.project_dir, Path.cwd())]
            path = next((p for p in tried if p.is_file()), tried[0])
        return Relation(model, "duckdb", node.get("database"), node["schema"], ident, path=path)
    if kind in ("postgres", "redshift"):
        user = quote(str(output.get("user", "")), safe="")
        password = quote(str(output.get("password") or output.get("pass") or ""), safe="")
        auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
        uri = f"postgresql://{auth}{output.get('host', 'localhost')}:{output.get('port', 5432)}/{output.get('dbname') or output.get('database')}"
        return Relation(model, "postgres", node.get("database"), node["schema"], ident, uri=uri)
    raise SourceError(problems=[Problem(f"dbt adapter {kind!r} is not supported yet (duckdb and postgres are)", key="dbt.target", hint="export the model to Parquet and read it with `path:`")])
