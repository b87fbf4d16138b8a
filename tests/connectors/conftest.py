"""Fixtures of the connector tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from ._support import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "project")


@pytest.fixture(scope="session")
def postgres_uri() -> str:
    """URI of a live PostgreSQL server: FLOWSITE_TEST_POSTGRES_URI, else a throwaway one started here."""
    import os

    from ._postgres import Server, find_bin

    # CI sets FLOWSITE_REQUIRE_POSTGRES so that a missing server fails the run instead of skipping.
    give_up = pytest.fail if os.environ.get("FLOWSITE_REQUIRE_POSTGRES") else pytest.skip
    if os.environ.get("FLOWSITE_TEST_POSTGRES_URI"):
        yield os.environ["FLOWSITE_TEST_POSTGRES_URI"]
        return
    try:
        import adbc_driver_postgresql  # noqa: F401
    except ImportError:
        give_up("the ADBC PostgreSQL driver is not installed (pip install -e '.[test]')")
    bindir = find_bin()
    if bindir is None:
        give_up("PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it")
    server = Server(bindir)
    try:
        uri = server.start()
    except RuntimeError as exc:
        server.stop()
        give_up(f"could not start a throwaway PostgreSQL: {exc}")
    yield uri
    server.stop()
