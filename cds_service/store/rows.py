"""Insert-if-absent, the one write idiom the store needs between workers and replicas."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError


def insert_ignore(conn: Connection, table: Table, row: dict[str, Any]) -> bool:
    """Insert unless the primary key exists; True when inserted. Safe between processes."""
    dialect = conn.dialect
    if dialect.name in ("sqlite", "postgresql") and dialect.insert_returning:
        insert = sqlite.insert if dialect.name == "sqlite" else postgresql.insert
        # RETURNING, not rowcount: some drivers report -1 for an INSERT ... ON CONFLICT.
        key = next(iter(table.primary_key.columns))
        statement = insert(table).values(row).on_conflict_do_nothing().returning(key)
        return conn.execute(statement).first() is not None
    try:
        with conn.begin_nested():
            conn.execute(table.insert().values(row))
    except IntegrityError:
        return False
    return True
