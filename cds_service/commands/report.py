"""`cds-service report`: the alert-fatigue table for the clinical committee, and the feedback
export.

Per rule: cards served, cards a silent rule would have shown, accepted, overridden, acceptance
rate and the top override reasons (the numbers come from `Store.report`). `--format csv` or
`ndjson` writes every feedback item instead, one record each (`Store.export`), for the
committee's own tools. This module only prints.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
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
from cds_service.store.export import FIELDS, FeedbackRecord
from cds_service.store.report_model import RuleReport
from cds_service.store.repository import Store

TOP_REASONS = 3


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    ndjson = "ndjson"


def report(
    since: Annotated[
        str | None,
        typer.Option(help="Only cards served (csv, ndjson: feedback given) on or after this UTC "
                     "date or date-time (ISO 8601, e.g. 2026-11-01)."),
    ] = None,
    output_format: Annotated[
        Format,
        typer.Option("--format", help="table or json: per-rule counts. csv or ndjson: every "
                     "feedback item with its rule, card, hook and service."),
    ] = Format.table,
    json_output: Annotated[
        bool, typer.Option("--json", help="Same as --format json.")
    ] = False,
    attributes: Annotated[
        bool, typer.Option("--attributes", help="Each rule's ONC HTI-1 source attributes "
                           "(citations, developer, funding, dates, data elements used) instead.")
    ] = False,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL; default: CDS_DATABASE_URL.")
    ] = None,
) -> None:
    """Per rule: cards served, accepted, overridden, acceptance rate, top override reasons."""
    chosen = Format.json if json_output else output_format
    if attributes:
        print_attributes(chosen)
        return
    start = parse_since(since)
    with open_store(database_url or _configured_url()) as store:
        if chosen in (Format.csv, Format.ndjson):
            write_records(store.export(start, hooks=_hooks()), chosen)
            return
        rows = store.report(start)
    if chosen is Format.json:
        typer.echo(json.dumps(report_json(rows, start), indent=2))
    else:
        console = Console()
        if not console.is_terminal:  # piped to a file or mail: don't squeeze into 80 columns
            console.width = 160
        console.print(report_table(rows, start))


def print_attributes(chosen: Format) -> None:
    """The source attributes (no database needed): a table, or JSON for any other format."""
    from cds_service.app import default_catalog
    from cds_service.governance.attributes import ELEMENTS, source_attributes

    found = source_attributes(default_catalog())
    if chosen is not Format.table:
        typer.echo(json.dumps({"rules": [a.to_json() for a in found.values()]}, indent=2))
        return
    first = next(iter(found.values()))
    table = Table(
        title="Source attributes per rule (ONC HTI-1, 45 CFR 170.315(b)(11))",
        caption=f"Developer: {first.developer}. Funding: {first.funding}.",
    )
    table.add_column("Rule", no_wrap=True)
    table.add_column("Released", no_wrap=True)
    table.add_column("Revised", no_wrap=True)
    table.add_column("Uses (every other HTI-1 element: no)")
    table.add_column("Citations")
    for rule, attrs in found.items():
        uses = ", ".join(label for name, label in ELEMENTS.items() if name in (attrs.uses or ()))
        table.add_row(
            rule, str(attrs.released or "?"), str(attrs.revised or "?"),
            "not yet declared" if attrs.uses is None else uses or "none",
            "\n".join(c.label for c in attrs.citations),
        )
    console = Console()
    if not console.is_terminal:
        console.width = 160
    console.print(table)


def write_records(records: list[FeedbackRecord], chosen: Format) -> None:
    """CSV with a header row (RFC 4180), or one JSON object per line, to stdout."""
    if chosen is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\r\n")
        writer.writerow(FIELDS)
        writer.writerows(record.to_csv() for record in records)
    else:
        for record in records:
            sys.stdout.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")


def _hooks() -> dict[str, str]:
    """Service id -> hook, from the service registry (the ids are fixed)."""
    from cds_service.hooks.registry import build_registry

    return {service.id: service.hook for service in build_registry([])}


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


@contextmanager
def open_store(url: str) -> Iterator[Store]:
    """The store, closed afterwards. A SQLite file that isn't there is an error (opening it
    would silently create an empty database and report nothing); so is a schema older than
    this release (a report does not upgrade data: `cds-service db upgrade` does). A database
    without any of our tables gets them, as at a first start, and reports nothing."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None  # open_database below says what is wrong with it
    path = parsed.database if parsed and parsed.get_backend_name() == "sqlite" else None
    if path not in (None, "", ":memory:") and not Path(str(path)).is_file():
        typer.echo(f"No database at {path} (set CDS_DATABASE_URL).", err=True)
        raise typer.Exit(1)
    try:
        engine = open_database(url, migrate=False, create_if_empty=True)
    except DatabaseUnusable as exc:
        typer.echo(f"Invalid configuration: CDS_DATABASE_URL: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        yield Store(engine)
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
        caption="Silent = cards a rule in silent mode produced (audited, not shown). "
        "Acceptance = accepted / (accepted + overridden); of served = accepted / served. "
        "Each card counts once, by its latest outcome; unanswered cards were ignored or came "
        "from an EHR that sends no feedback.",
    )
    table.add_column("Rule", no_wrap=True)
    for name in ("Served", "Silent", "Accepted", "Overridden", "Acceptance", "Of served"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Top override reasons", min_width=24)
    for row in rows:
        table.add_row(
            row.rule_id, str(row.served), str(row.silent) if row.silent else "–",
            str(row.accepted), str(row.overridden), _percent(row.acceptance_rate),
            _percent(row.accepted_per_served), _reasons(row),
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

