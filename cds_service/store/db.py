"""The database: one SQLAlchemy engine for feedback, the served-card audit and the JWT replay store.

SQLite by default (a file, so it survives restarts and is shared by every worker on the host);
any SQLAlchemy URL works. Tables are created at start-up.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, sessionmaker

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
    return create_engine(url, pool_pre_ping=True)


def open_database(url: str) -> Engine:
    """The engine with its tables in place, or `DatabaseUnusable` saying why, in one line."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
        engine = make_engine(url)
    except (ArgumentError, NoSuchModuleError):
        raise DatabaseUnusable(f"not a database URL this service knows ({_URL_EXAMPLES})") from None
    except ModuleNotFoundError as exc:
        raise DatabaseUnusable(
            f"the database driver {exc.name!r} is not installed "
            "(PostgreSQL: pip install 'cds-service[postgres]')"
        ) from None
    try:
        init_schema(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        raise DatabaseUnusable(f"cannot open {shown}: {reason}") from None
    return engine


def init_schema(engine: Engine) -> None:
    """Create all tables that are missing. Import the table modules first so they register."""
    import cds_service.store.tables  # noqa: F401  (registers the mapped classes)

    Base.metadata.create_all(engine)


def session_factory(engine: Engine) -> sessionmaker:  # type: ignore[type-arg]
    return sessionmaker(engine, expire_on_commit=False)
