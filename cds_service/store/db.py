"""The database: one SQLAlchemy engine for feedback, the served-card audit and the JWT replay store.

SQLite by default (a file, so it survives restarts and is shared by every worker on the host);
PostgreSQL for replicas on several hosts. The schema is upgraded to this release's head at
start-up (`store.schema`), or checked to be there when upgrades are a step of their own.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DisconnectionError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase

if TYPE_CHECKING:
    from cds_service.store.schema import SchemaState

log = logging.getLogger(__name__)

# The database is down or unreachable (not our bug, not the caller's): the API answers 503.
DATABASE_DOWN: tuple[type[SQLAlchemyError], ...] = (
    OperationalError, InterfaceError, DisconnectionError, PoolTimeout,
)

_URL_EXAMPLES = "e.g. sqlite:///cds-service.db or postgresql+psycopg://user@host/cds"


class DatabaseUnusable(ValueError):
    """CDS_DATABASE_URL names a database this process cannot use; the message shows no password."""


class Base(DeclarativeBase):
    """Declarative base shared by every table of the service."""


def make_engine(url: str) -> Engine:
    """Create the engine; SQLite gets WAL and a busy timeout so several workers can share it."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args: dict[str, object] = {}
    if url.startswith("postgresql") and "connect_timeout" not in url:
        # A database host that does not answer: fail (503, one log line) in seconds, not
        # after the operating system's TCP timeout of minutes.
        connect_args["connect_timeout"] = 5
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def connect(url: str) -> Engine:
    """The engine for a URL (no connection made yet), or `DatabaseUnusable` saying why."""
    try:
        return make_engine(url)
    except (ArgumentError, NoSuchModuleError):
        raise DatabaseUnusable(f"not a database URL this service knows ({_URL_EXAMPLES})") from None
    except ModuleNotFoundError as exc:
        raise DatabaseUnusable(
            f"the database driver {exc.name!r} is not installed "
            "(PostgreSQL: pip install 'cds-service[postgres]')"
        ) from None


def shown_url(url: str) -> str:
    """The URL as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def open_database(url: str, *, migrate: bool = True, create_if_empty: bool = False) -> Engine:
    """The engine on a schema at head (upgraded first when `migrate`; created, without
    `migrate`, in a database that has none of our tables when `create_if_empty`), or
    `DatabaseUnusable` saying why, in one line."""
    from cds_service.store.schema import schema_state

    engine = connect(url)
    shown = shown_url(url)
    try:
        state = init_schema(engine) if migrate else schema_state(engine)
        if create_if_empty and state.current is None and not state.tables:
            state = init_schema(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseUnusable(f"cannot open {shown}: {short_reason(exc)}") from None
    if not state.known:
        log.warning("database schema %s: running on it (rolling upgrade?)", state.describe())
    elif not state.at_head:
        engine.dispose()
        raise DatabaseUnusable(
            f"the schema of {shown} is {state.describe()}: run `cds-service db upgrade` "
            "(or start with CDS_DATABASE_MIGRATE=true)"
        )
    return engine


def short_reason(exc: BaseException) -> str:
    """The driver's first line (no SQL, no parameters), for one-line messages."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]


def init_schema(engine: Engine) -> SchemaState:
    """Upgrade the schema to head (every test database starts here too); the state after."""
    from cds_service.store.schema import upgrade

    before, after = upgrade(engine)
    if after.current != before.current:
        log.info("database schema upgraded to %s (it was %s)", after.current, before.origin())
    return after

