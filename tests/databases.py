"""The databases the store, replay and feedback tests run on: SQLite and PostgreSQL, each fresh.

Every test that takes `database_url` runs twice: on a new SQLite file and in a new PostgreSQL
schema. The PostgreSQL server is the one at `CDS_TEST_POSTGRES_URL` (default: the development
and CI server, `postgresql+psycopg://postgres@127.0.0.1:5432/test`). The suite connects to the
database that URL names only to `CREATE DATABASE cds_test_<pid>_<random>` and, at the end of
the run, `DROP DATABASE` that same name: it never reads, writes or drops anything it did not
create. Each test gets a fresh schema in that database (dropped after the test); tests about a
whole database (replicas, an outage) get a database of their own (`postgres_url`). Without a
reachable server the PostgreSQL half is skipped, and the run's summary says so in one line,
with how to enable it.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HOW_TO_ENABLE = (
    "start PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`) or set "
    "CDS_TEST_POSTGRES_URL to a server where this user may create databases"
)
_counts = {"ran": 0, "skipped": 0}


def server_url() -> str:
    """The server to create scratch databases on, with the psycopg (3) driver."""
    url = make_url(os.environ.get("CDS_TEST_POSTGRES_URL") or DEFAULT_SERVER)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def _admin_engine() -> Engine:
    return create_engine(
        server_url(),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 3},
    )


@functools.cache
def postgres_unavailable() -> str | None:
    """Why the PostgreSQL tests cannot run here (one line), or None when they can."""
    shown = make_url(server_url()).render_as_string(hide_password=True)
    try:
        engine = _admin_engine()
    except ModuleNotFoundError:
        return "psycopg is not installed (scripts/test installs it)"
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return f"no PostgreSQL at {shown}: {HOW_TO_ENABLE}"
    finally:
        engine.dispose()
    return None


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards, whatever happened."""
    name = f"cds_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url()).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                # FORCE: a server process a test started may still hold a connection.
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def scratch_schema(database: str) -> Iterator[str]:
    """A new, empty schema in this run's own database, as the URL's only search path.

    Seven times cheaper than a database per test (0.04 s against 0.28 s here), and as
    isolated: nothing the service does names a schema, so it lives in the search path's.
    """
    schema = f"t_{secrets.token_hex(6)}"
    engine = create_engine(database, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = make_url(database).update_query_dict({"options": f"-csearch_path={schema}"})
            yield url.render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


def require_postgres() -> None:
    reason = postgres_unavailable()
    if reason:
        _counts["skipped"] += 1
        pytest.skip(f"PostgreSQL tests skipped: {reason}")



@pytest.fixture(scope="session")
def postgres_run_database() -> Iterator[str]:
    """This run's own PostgreSQL database, created on first use and dropped at the end."""
    require_postgres()
    with scratch_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, then (second run) a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    require_postgres()
    _counts["ran"] += 1
    with scratch_schema(request.getfixturevalue("postgres_run_database")) as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, for tests about a whole database (replicas, an outage)."""
    require_postgres()
    _counts["ran"] += 1
    with scratch_postgres() as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: runs on the PostgreSQL test server")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line: did the PostgreSQL half of the suite run, and if not, how to make it."""
    if _counts["ran"]:
        shown = make_url(server_url()).render_as_string(hide_password=True)
        terminalreporter.write_line(
            f"PostgreSQL: {_counts['ran']} tests ran on {shown} "
            "(in cds_test_* databases this run created and dropped)"
        )
    elif _counts["skipped"]:
        terminalreporter.write_line(
            f"PostgreSQL: {_counts['skipped']} tests skipped: {postgres_unavailable()}"
        )
