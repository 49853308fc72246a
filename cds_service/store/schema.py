"""The database schema's version, and its upgrade to this release's head (Alembic migrations).

Upgrades run at start-up (`CDS_DATABASE_MIGRATE`, on by default) or as a step of their own
(`cds-service db upgrade`). One migrator at a time: on PostgreSQL a transaction-scoped
advisory lock, on SQLite an immediate (write-locked) transaction, so replicas and workers that
start together wait for the first and then find the schema at head. The whole upgrade is one
transaction, so a failed upgrade changes nothing. Migrations are additive (new tables, new
nullable or defaulted columns), so a replica of the previous release keeps working on an
upgraded database during a rolling upgrade.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

# Alembic narrates each step (and its plugins, as it is imported) at INFO; `db.init_schema`
# logs one line per upgrade instead. Set before Alembic is first imported, below.
logging.getLogger("alembic").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).parent / "migrations"
# This release's head revision, so that a start on a schema already at head needs no Alembic
# (about 20 MiB of resident memory); tests/store checks it against the migrations.
HEAD = "r0002"
# The advisory lock every process of this service takes to migrate ("CDSS" in ASCII).
_LOCK_KEY = 0x43445353
_RELEASE_0_1_TABLES = frozenset({"served_cards", "feedback", "seen_jwt"})


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database's schema stands against this release."""

    current: str | None  # the revision recorded in alembic_version; None: no version yet
    head: str
    tables: frozenset[str]  # the service's tables present

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    @property
    def known(self) -> bool:
        """False when the database was upgraded by a newer release than this one."""
        return self.current is None or self.at_head or self.current in _revisions()

    def origin(self) -> str:
        """Where the schema stands, in words: `r0001`, `empty`, or release 0.1.0's."""
        if self.current is not None:
            return self.current
        return "release 0.1.0's, no version recorded" if self.tables else "empty"

    def describe(self) -> str:
        if self.at_head:
            return f"at head ({self.head})"
        if not self.known:
            return f"at {self.current}, newer than this release (head {self.head})"
        return f"{self.origin()}, needs an upgrade to {self.head}"


@functools.cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


@functools.cache
def _revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _script().walk_revisions())


def head() -> str:
    """The head revision of the migrations (read by Alembic; `HEAD` must equal it)."""
    heads = _script().get_heads()
    assert len(heads) == 1, f"migrations must form one line, found heads {heads}"
    return heads[0]


def schema_state(engine: Engine) -> SchemaState:
    with engine.connect() as conn:
        return _state(conn)


def _state(conn: Connection) -> SchemaState:
    tables = frozenset(inspect(conn).get_table_names())
    current = None
    if "alembic_version" in tables:  # Alembic's own table: one row, the current revision
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert len(versions) <= 1, f"one line of migrations, found versions {versions}"
        current = versions[0] if versions else None
    return SchemaState(current=current, head=HEAD, tables=tables & _RELEASE_0_1_TABLES)


def upgrade(engine: Engine) -> tuple[SchemaState, SchemaState]:
    """Upgrade to head under the schema lock; (before, after). A database newer than this
    release is left as it is (`after.known` is False)."""
    with _locked(engine) as conn:
        before = _state(conn)
        if before.at_head or not before.known:
            return before, before
        from alembic import command  # only when there is something to upgrade
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        return before, _state(conn)


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction that holds the schema lock until it ends."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            yield conn
    elif engine.dialect.name == "sqlite":
        # The driver would open its own (deferred) transaction lazily and not around DDL;
        # take SQLite's write lock for the whole upgrade ourselves.
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
    else:
        with engine.begin() as conn:
            yield conn
