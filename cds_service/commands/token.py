"""`cds-service token`: mint a test JWT for one endpoint URL from a local private key.

For curl and tests: the token is what a CDS client sends in `Authorization: Bearer ...`.
`aud` is the exact URL given (the discovery URL, a service URL or its `/feedback`: a token
for one is refused on another), it expires after `--lifetime` seconds and its `jti` is new,
so it is accepted once. Only the token is printed, so `TOKEN=$(cds-service token ...)` works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from cds_service.commands.jwt_tools import KeyFileError, load_key, mint_token

EXIT_USAGE = 2


def token(
    url: Annotated[
        str,
        typer.Argument(
            metavar="URL",
            help="The exact URL the token is for, e.g. http://127.0.0.1:8080/cds-services.",
        ),
    ],
    key: Annotated[
        Path,
        typer.Option(
            help="Private key: a JWK, a JWK Set or PEM (`cds-service keys new` writes one).",
        ),
    ],
    iss: Annotated[str, typer.Option(help="Issuer: exactly as in the service's trust file.")],
    kid: Annotated[
        str | None,
        typer.Option(help="Key id for the header (default: the key's own kid, else its "
                     "thumbprint); it must match a kid in the service's JWK Set."),
    ] = None,
    alg: Annotated[
        str | None, typer.Option(help="Default: the key's alg, else by key type.")
    ] = None,
    jku: Annotated[str | None, typer.Option(help="Put this jku in the header.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Add a tenant claim.")] = None,
    lifetime: Annotated[
        int, typer.Option(min=1, max=86_400, help="Seconds until exp (the sandbox uses 300).")
    ] = 300,
) -> None:
    """Print a signed JWT for URL (iss, aud = URL, exp, iat, a fresh jti)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise typer.BadParameter("must be an absolute http(s) URL", param_hint="URL")
    try:
        loaded = load_key(key, kid=kid, alg=alg)
    except KeyFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(mint_token(loaded, iss=iss, aud=url, lifetime=lifetime, jku=jku, tenant=tenant))
