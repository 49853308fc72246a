"""Alembic migrations of the service's database (see `cds_service.store.schema`)."""
