"""The `cds-service` command: serve, and the tools integration engineers and operators use."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from cds_service.settings import Settings, describe_error, load_settings, unknown_variables

cli = typer.Typer(
    help="CDS Hooks 2.0 service for the lower-extremity muscle cramp guideline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@cli.callback()
def _every_command(ctx: typer.Context) -> None:
    """Name misspelt CDS_* variables for every command (serve logs them from the service)."""
    if ctx.invoked_subcommand != "serve":
        for note in unknown_variables():
            typer.echo(f"Warning: {note}", err=True)


def settings_or_exit() -> Settings:
    """Validated settings, or a clear message naming each bad CDS_* variable and exit code 2."""
    from cds_service.governance.site import SiteConfigError, site_for

    try:
        settings = load_settings()
        site_for(settings)  # a bad site file stops every command, in one line
    except ValidationError as exc:
        typer.echo("Invalid configuration:\n" + describe_error(exc), err=True)
        raise typer.Exit(2) from None
    except FileNotFoundError as exc:
        typer.echo(f"Invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from None
    except SiteConfigError as exc:
        typer.echo(f"Invalid configuration: CDS_SITE_FILE: {exc}", err=True)
        raise typer.Exit(2) from None
    return settings


def usable_or_exit(settings: Settings) -> None:
    """Settings that validate may still be unusable: an unreadable trust file, a database that
    cannot be opened. Say so in one line naming the variable (exit 2), not in a traceback."""
    from cds_service.security.trust import TrustConfigError, trust_config
    from cds_service.store.db import DatabaseUnusable, open_database

    if settings.auth_required:
        try:
            trust_config(settings)
        except TrustConfigError as exc:
            typer.echo(f"Invalid configuration: CDS_TRUST_FILE / CDS_PROFILE: {exc}", err=True)
            raise typer.Exit(2) from None
    try:  # last: this upgrades the schema (once, before any worker starts)
        open_database(settings.database_url, migrate=settings.database_migrate).dispose()
    except DatabaseUnusable as exc:
        typer.echo(f"Invalid configuration: CDS_DATABASE_URL: {exc}", err=True)
        raise typer.Exit(2) from None


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the HTTP service (settings from CDS_* environment variables)."""
    import uvicorn

    from cds_service.api.serving import uvicorn_options
    from cds_service.commands.serving import log_listening, port_free_or_exit
    from cds_service.observability.logging import configure_logging
    from cds_service.observability.metrics import shared_between_workers

    settings = settings_or_exit()
    port_free_or_exit(host, port)  # before the database file is created
    configure_logging(settings.log_level, settings.log_json)  # the parent's lines, too
    usable_or_exit(settings)  # fail fast, before uvicorn starts workers (logs a schema upgrade)
    log_listening(settings, host, port, workers)
    with shared_between_workers(workers):
        uvicorn.run(
            "cds_service.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **uvicorn_options(settings),
        )


# Tool commands (each module holds one command; keep one registration line per command).
from cds_service.commands.report import report  # noqa: E402

cli.command(help="Per-rule served/accepted/overridden table from the feedback store.")(report)
from cds_service.commands.evaluate import evaluate  # noqa: E402

cli.command(help="Run hook request files through the pipeline; print the cards.")(evaluate)
from cds_service.commands.validate import validate  # noqa: E402

cli.command(help="Strictly validate FHIR and CDS Hooks JSON files (fixtures).")(validate)
from cds_service.commands.request import request  # noqa: E402

cli.command(help="Build a hook request JSON from a patient Bundle and draft orders.")(request)
from cds_service.commands.check import check  # noqa: E402

cli.command(help="Run the scenario table; pass/fail per scenario with reasons.")(check)
from cds_service.commands.keys import keys  # noqa: E402

cli.add_typer(keys, name="keys")
from cds_service.commands.token import token  # noqa: E402

cli.command(help="Mint a test JWT for one endpoint URL from a local private key.")(token)
from cds_service.commands.trust_check import trust  # noqa: E402

cli.add_typer(trust, name="trust")
from cds_service.commands.db import db  # noqa: E402

cli.add_typer(db, name="db")


def main() -> None:
    cli(prog_name="cds-service")


if __name__ == "__main__":
    main()
