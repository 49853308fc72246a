"""What `cds-service serve` checks and says around uvicorn: the port, and where it listens.

The port is checked before anything else is touched (the SQLite database file would otherwise
be created by a service that never starts), and uvicorn's own failure there is a traceback and
exit code 3. The listening line is logged by the parent process, so it appears with several
workers too (only workers configured logging before).
"""

from __future__ import annotations

import errno
import logging
import socket

import typer

from cds_service.settings import Settings

log = logging.getLogger("cds_service.serve")

EXIT_UNUSABLE = 2


def port_free_or_exit(host: str, port: int) -> None:
    """Bind and release `host:port` as uvicorn will (SO_REUSEADDR); one line and exit 2 if not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        typer.echo(f"Cannot listen on {host}:{port}: {_why(exc, port)}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from None


def _why(exc: OSError, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} is already in use (another cds-service, a FHIR server or the "
            "sandbox's `npm run dev` often take 8080); choose another with --port"
        )
    if exc.errno == errno.EACCES:
        return f"not allowed to use port {port} (ports below 1024 need privileges)"
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
        return "no such address on this machine (check --host)"
    return exc.strerror or type(exc).__name__


def log_listening(settings: Settings, host: str, port: int, workers: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    log.info(
        "cds-service listening on http://%s:%d with %d worker%s; discovery as EHRs call it "
        "(JWT aud): %s",
        shown,
        port,
        workers,
        "" if workers == 1 else "s",
        settings.discovery_url,
    )
