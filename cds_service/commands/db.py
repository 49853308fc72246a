"""`cds-service db`: the database's schema version, its upgrade, and retention, by hand.

For deployments that upgrade the schema as a step of their own (`CDS_DATABASE_MIGRATE=false`
on the replicas, `cds-service db upgrade` once per release), and for pruning from cron.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cds_service.commands._common import settings_or_exit
from cds_service.store.db import DatabaseUnusable, connect, short_reason, shown_url

db = typer.Typer(
    help="The service's database: schema status and upgrade, retention.",
    no_args_is_help=True,
)

DatabaseUrl = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL; default: CDS_DATABASE_URL.")
]


@contextmanager
def _database(url: str | None) -> Iterator[Engine]:
    """The engine; a URL, driver or connection problem is one line and exit 2."""
    url = url or settings_or_exit().database_url
    try:
        engine = connect(url)
    except DatabaseUnusable as exc:
        typer.echo(f"Invalid configuration: CDS_DATABASE_URL: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        yield engine
    except SQLAlchemyError as exc:
        typer.echo(f"cannot use {shown_url(url)}: {short_reason(exc)}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


@db.command(help="Where the schema stands; exit 0 at head, 1 when an upgrade is pending.")
def status(database_url: DatabaseUrl = None) -> None:
    """Where the schema stands against this release. Exit 0 at head, 1 when an upgrade is
    pending (or the database is newer than this release)."""
    from cds_service.store.schema import schema_state

    with _database(database_url) as engine:
        state = schema_state(engine)
    typer.echo(f"schema: {state.describe()}")
    raise typer.Exit(0 if state.at_head else 1)


@db.command(help="Upgrade the schema to this release (one transaction; safe while serving).")
def upgrade(database_url: DatabaseUrl = None) -> None:
    """Upgrade the schema to this release, in one transaction (safe while replicas serve:
    one migrator at a time, and every change is additive)."""
    from cds_service.store.schema import upgrade as upgrade_schema

    with _database(database_url) as engine:
        before, after = upgrade_schema(engine)
    if not after.known:
        typer.echo(f"schema: {after.describe()}; left as it is", err=True)
        raise typer.Exit(1)
    if before.current == after.current:
        typer.echo(f"schema: {after.describe()}; nothing to do")
    else:
        typer.echo(f"schema: upgraded to {after.current} (it was {before.origin()})")


@db.command(help="Delete audit rows past retention and expired JWT ids (feedback is kept).")
def prune(
    database_url: DatabaseUrl = None,
    older_than_days: Annotated[
        int | None,
        typer.Option(min=1, help="Audit age to keep; default: CDS_AUDIT_RETENTION_DAYS."),
    ] = None,
) -> None:
    """Delete served-card audit rows older than the retention period and expired JWT ids,
    in small batches (what each running service also does hourly). Feedback is kept."""
    from cds_service.store.retention import Retention

    days = older_than_days or settings_or_exit().audit_retention_days
    with _database(database_url) as engine:
        pruned = Retention(engine, audit_days=days).prune()
    typer.echo(
        f"deleted {pruned.audit_rows} served-card row(s) older than {days} days and "
        f"{pruned.jwt_ids} expired JWT id(s)"
    )
