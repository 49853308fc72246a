"""`cds-service trust check`: the trust configuration as the service loads it, and what a
given token would get from it, and why.

Without `--token`: the clients `serve` would trust (CDS_TRUST_FILE, CDS_PROFILE), each with its
algorithms, key ids and key sources; a file the service would refuse is refused here with the
same message (exit 2). With `--token`: the token's header and claims (unverified, for reading),
then the service's own verifier decides (`JwtVerifier`, with `aud` = CDS_PUBLIC_BASE_URL + the
path of `--url`), and a refusal comes with what to change. The token's `jti` is recorded in a
throw-away store, so checking a token does not use it up; the running service accepts each
`jti` once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import typer

from cds_service.errors import Unauthorized
from cds_service.security.jwks import JwksCache
from cds_service.security.jwt import JwtVerifier
from cds_service.security.keys import UnusableKey, parse_jwk_set
from cds_service.security.principal import AuthenticatedClient
from cds_service.security.replay import ReplayStore
from cds_service.security.trust import TrustConfig, TrustConfigError, TrustedClient, trust_config
from cds_service.settings import Settings
from cds_service.store.db import open_database

trust = typer.Typer(
    help="Check the trust configuration, and what a token would get from it.",
    no_args_is_help=True,
)

EXIT_REFUSED = 1
EXIT_CONFIG = 2


@trust.command("check")
def check(
    token: Annotated[
        str | None,
        typer.Option(help="A JWT (with or without 'Bearer '); '-' reads it from stdin."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="The URL the token is sent to. Default: the discovery URL."),
    ] = None,
) -> None:
    """List the trusted clients; with --token, say whether that token is accepted, and why."""
    from cds_service.cli import settings_or_exit

    settings = settings_or_exit()
    try:
        config = trust_config(settings)
    except TrustConfigError as exc:
        typer.echo(f"Invalid configuration: CDS_TRUST_FILE / CDS_PROFILE: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    describe_config(settings, config)
    if token is None:
        return
    raw = sys.stdin.read() if token == "-" else token
    raw = raw.strip().removeprefix("Bearer ").strip()
    audience = _audience(settings, url)
    typer.echo("")
    describe_token(raw)
    accepted, reason, notes = asyncio.run(_verify(settings, config, raw, audience))
    typer.echo("")
    if accepted is not None:
        servers = ", ".join(accepted.fhir_servers) if accepted.fhir_servers else (
            "any host in CDS_FHIR_ALLOWED_HOSTS"
        )
        typer.echo(f"ACCEPTED for {audience}: client {_label(config, accepted.issuer)}, "
                   f"tenant {accepted.tenant or '-'}; fhirServer allowed: {servers}.")
        typer.echo("The running service accepts this jti once: mint a new token per request.")
        if not settings.auth_required:
            typer.echo("Note: CDS_AUTH_REQUIRED=false, so the service does not check tokens.")
        return
    typer.echo(f"REFUSED (the service answers 401) for {audience}: {reason}")
    for line in explain(reason, raw, audience, config, settings):
        typer.echo(f"  - {line}")
    for note in notes:
        typer.echo(f"  - key fetch: {note}")
    raise typer.Exit(EXIT_REFUSED)


def _audience(settings: Settings, url: str | None) -> str:
    """What the service compares `aud` with: its public base URL plus the request's path."""
    if url is None:
        return settings.discovery_url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise typer.BadParameter("must be an absolute http(s) URL", param_hint="--url")
    audience = settings.public_base_url + parts.path
    if audience.rstrip("/") != url.split("?")[0].rstrip("/"):
        typer.echo(
            f"Note: the service checks aud against CDS_PUBLIC_BASE_URL + path = {audience}, "
            f"not {url}.",
            err=True,
        )
    return audience


def _label(config: TrustConfig, iss: str | None) -> str:
    client = config.client(iss) if iss else None
    return f"{client.label!r} (iss {iss})" if client else str(iss)


def describe_config(settings: Settings, config: TrustConfig) -> None:
    source = str(settings.trust_file) if settings.trust_file else "no CDS_TRUST_FILE"
    typer.echo(f"Trust configuration: {source}, profile {settings.profile}; "
               f"aud is checked against {settings.public_base_url} + the request path.")
    if not settings.auth_required:
        typer.echo("CDS_AUTH_REQUIRED=false: the service accepts calls without any token.")
    if not config.clients:
        typer.echo("No client is trusted: every call with a token is refused (401).")
    if config.trusts_sandbox:
        typer.echo("The CDS Hooks Sandbox is trusted: its private key is public, so anyone can "
                   "mint its tokens. Testing only.")
    for client in config.clients:
        typer.echo(f"- {client.label}: iss {client.iss}")
        typer.echo(f"    algorithms {', '.join(client.algorithms)}; keys: {_key_sources(client)}")
        if client.tenants is not None:
            typer.echo(f"    tenant must be one of: {', '.join(client.tenants)}")
        servers = ", ".join(client.fhir_servers) if client.fhir_servers else (
            "any host in CDS_FHIR_ALLOWED_HOSTS"
        )
        typer.echo(f"    fhirServer: {servers}")


def _key_sources(client: TrustedClient) -> str:
    parts = []
    kids = sorted(_inline_kids(client))
    if kids:
        parts.append(f"kid {', '.join(kids)} (inline/file)")
    parts.extend(f"fetched from {url}" for url in client.jwks_urls)
    parts.extend(f"a token's jku {url}" for url in client.allowed_jku)
    return "; ".join(parts) or "none"


def _inline_kids(client: TrustedClient) -> set[str]:
    kids: set[str] = set()
    for doc in client.inline_jwk_sets():
        try:
            keys, _ = parse_jwk_set(doc)
        except UnusableKey:
            continue
        kids.update(keys)
    return kids


def _part(token: str, index: int) -> dict[str, Any] | None:
    try:
        piece = token.split(".")[index]
        value = json.loads(base64.urlsafe_b64decode(piece + "=" * (-len(piece) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    return value if isinstance(value, dict) else None


def describe_token(token: str) -> None:
    """The header and claims as sent (not yet verified): what the operator needs to compare."""
    header, claims = _part(token, 0), _part(token, 1)
    if header is None or claims is None:
        typer.echo("Token: not a compact JWT (header.payload.signature, base64url JSON).")
        return
    shown = {k: header.get(k) for k in ("alg", "typ", "kid", "jku") if k in header}
    typer.echo(f"Token header: {json.dumps(shown)}")
    typer.echo("Token claims (unverified):")
    for name in ("iss", "aud", "tenant", "jti"):
        if name in claims:
            typer.echo(f"  {name}: {json.dumps(claims[name])}")
    now = datetime.now(UTC).timestamp()
    for name in ("iat", "nbf", "exp"):
        value = claims.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            when = datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")
            typer.echo(f"  {name}: {value} ({when}, {_relative(value - now)})")


def _relative(seconds: float) -> str:
    amount = abs(int(seconds))
    text = f"{amount} s" if amount < 120 else f"{amount // 60} min"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


@contextmanager
def _captured(logger_name: str) -> Iterator[list[str]]:
    """The verifier's and key cache's log lines, shown as notes instead of on stderr."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger(logger_name)
    handler = Collect(logging.INFO)
    previous = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]


async def _verify(
    settings: Settings, config: TrustConfig, token: str, audience: str
) -> tuple[AuthenticatedClient | None, str, list[str]]:
    """The service's verifier on a throw-away replay store; (client, "", notes) or
    (None, reason, notes)."""
    with (
        tempfile.TemporaryDirectory() as scratch,
        _captured("cds_service.security") as lines,
    ):
        engine = open_database(f"sqlite:///{Path(scratch) / 'replay.db'}")
        try:
            async with httpx.AsyncClient(timeout=3.0, follow_redirects=False) as http:
                verifier = JwtVerifier(
                    config,
                    JwksCache(http),
                    ReplayStore(engine),
                    clock_skew=settings.jwt_clock_skew_seconds,
                    max_lifetime=settings.jwt_max_lifetime_seconds,
                )
                try:
                    client = await verifier.verify(token, audience)
                except Unauthorized as exc:
                    return None, exc.message, _fetch_notes(lines)
                return client, "", _fetch_notes(lines)
        finally:
            engine.dispose()


def _fetch_notes(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("jwks", "jku"))]


def explain(
    reason: str, token: str, audience: str, config: TrustConfig, settings: Settings
) -> list[str]:
    """What to change, for the refusals an operator meets while setting up."""
    claims = _part(token, 1) or {}
    header = _part(token, 0) or {}
    iss = claims.get("iss")
    client = config.client(iss) if isinstance(iss, str) else None
    hints: list[str] = []
    if reason.startswith("aud"):
        hints.append(f"the token's aud is {json.dumps(claims.get('aud'))}; this endpoint "
                     f"needs exactly {audience}")
        hints.append("every endpoint needs its own token: a discovery token is refused on a "
                     "hook call, and a hook call's token on its /feedback")
        hints.append("localhost and 127.0.0.1 differ; CDS_PUBLIC_BASE_URL must be the base "
                     "URL the client calls")
    elif reason == "iss not trusted":
        trusted = ", ".join(c.iss for c in config.clients) or "none"
        hints.append(f"iss {json.dumps(iss)} is not in the trust configuration (trusted: "
                     f"{trusted}); it must match exactly, a trailing '/' included")
    elif reason in ("kid missing", "no key with this kid for this client"):
        known = sorted(_inline_kids(client)) if client else []
        hints.append(f"the header's kid is {json.dumps(header.get('kid'))}; the token header "
                     "and the client's JWK Set must carry the same kid")
        if known:
            hints.append(f"kids in the trust file for this client: {', '.join(known)}")
    elif reason.startswith(("alg", "key type")):
        allowed = ", ".join(client.algorithms) if client else "-"
        hints.append(f"the header's alg is {json.dumps(header.get('alg'))}; this client's "
                     f"algorithms: {allowed} (trust file `algorithms`)")
    elif reason.startswith("jku"):
        allowed = ", ".join(client.allowed_jku) if client else "-"
        hints.append(f"the header's jku is not in this client's allowed_jku ({allowed or '-'})")
    elif reason.startswith(("token expired", "iat", "token not yet")):
        hints.append(f"clocks must agree within CDS_JWT_CLOCK_SKEW_SECONDS "
                     f"({settings.jwt_clock_skew_seconds} s); mint a fresh token")
    elif reason.startswith("token lifetime"):
        hints.append(f"exp - iat is over CDS_JWT_MAX_LIFETIME_SECONDS "
                     f"({settings.jwt_max_lifetime_seconds} s)")
    elif reason.startswith("jti"):
        hints.append("every token needs a unique jti; the service accepts each one once")
    elif reason.startswith("typ"):
        hints.append('the header needs "typ": "JWT"')
    elif reason.startswith("tenant"):
        hints.append("the tenant claim must be one of the client's `tenants`")
    elif reason.startswith("signature"):
        hints.append("signed with a different private key than the public key trusted under "
                     "this kid")
    return hints
