"""Alembic's environment: migrate on the connection `cds_service.store.schema` hands over.

That connection already holds the schema lock and is inside the one transaction the whole
upgrade runs in, so Alembic neither connects nor commits by itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import cds_service.store.tables  # noqa: F401  (registers the mapped classes)
from cds_service.store.db import Base

connection: Connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
