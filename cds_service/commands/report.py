"""`cds-service report`: the alert-fatigue table for the clinical committee.

Per rule: cards served, accepted, overridden, acceptance rate and the top override reasons,
read from the feedback store (the numbers come from `Store.report`; this module only prints).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from cds_service.settings import describe_error, load_settings
from cds_service.store.db import DatabaseUnusable, open_database
from cds_service.store.report_model import RuleReport
from cds_service.store.repository import Store

TOP_REASONS = 3


def report(
    since: Annotated[
        str | None,
        typer.Option(help="Only cards served on or after this UTC date or date-time "
                     "(ISO 8601, e.g. 2026-11-01)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL; default: CDS_DATABASE_URL.")
    ] = None,
) -> None:
    """Per rule: cards served, accepted, overridden, acceptance rate, top override reasons."""
    start = parse_since(since)
    rows = load_report(database_url or _configured_url(), start)
    if json_output:
        typer.echo(json.dumps(report_json(rows, start), indent=2))
    else:
        console = Console()
        if not console.is_terminal:  # piped to a file or mail: don't squeeze into 80 columns
            console.width = 160
        console.print(report_table(rows, start))


def parse_since(value: str | None) -> datetime | None:
    """`2026-11-01` -> midnight UTC; a date-time without an offset is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            "expected an ISO 8601 date such as 2026-11-01", param_hint="--since"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def load_report(url: str, since: datetime | None) -> list[RuleReport]:
    """Open the store, read the report, close. A SQLite file that isn't there is an error
    (opening it would silently create an empty database and report nothing)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None  # open_database below says what is wrong with it
    path = parsed.database if parsed and parsed.get_backend_name() == "sqlite" else None
    if path not in (None, "", ":memory:") and not Path(str(path)).is_file():
        typer.echo(f"No database at {path} (set CDS_DATABASE_URL).", err=True)
        raise typer.Exit(1)
    try:
        engine = open_database(url)  # an older database may lack a table: created, empty
    except DatabaseUnusable as exc:
        typer.echo(f"Invalid configuration: CDS_DATABASE_URL: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        return Store(engine).report(since)
    finally:
        engine.dispose()


def _configured_url() -> str:
    try:
        return load_settings().database_url
    except ValidationError as exc:
        typer.echo("Invalid configuration:\n" + describe_error(exc), err=True)
        raise typer.Exit(2) from None
    except FileNotFoundError as exc:
        typer.echo(f"Invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from None


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _reasons(row: RuleReport) -> str:
    parts = [f"{reason.label()} ×{reason.count}" for reason in row.reasons[:TOP_REASONS]]
    if row.overridden_without_reason:
        parts.append(f"(no reason) ×{row.overridden_without_reason}")
    return "\n".join(parts) or "–"


def report_table(rows: list[RuleReport], since: datetime | None) -> Table:
    period = f"since {_day(since)}" if since else "all time"
    table = Table(
        title=f"Card outcomes by rule ({period})",
        caption="Acceptance = accepted / (accepted + overridden); of served = accepted / served. "
        "Each card counts once, by its latest outcome; unanswered cards were ignored or came "
        "from an EHR that sends no feedback.",
    )
    table.add_column("Rule", no_wrap=True)
    for name in ("Served", "Accepted", "Overridden", "Acceptance", "Of served"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Top override reasons", min_width=24)
    for row in rows:
        table.add_row(
            row.rule_id, str(row.served), str(row.accepted), str(row.overridden),
            _percent(row.acceptance_rate), _percent(row.accepted_per_served), _reasons(row),
        )
    return table


def report_json(rows: list[RuleReport], since: datetime | None) -> dict[str, Any]:
    return {
        "since": since.isoformat() if since else None,
        "generatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "rules": [row.to_json() for row in rows],
    }


def _day(value: datetime) -> str:
    return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()

