"""`cds-service keys`: make a signing key pair, or turn a PEM key into a JWK Set.

The private key stays with the CDS client (the EHR, or a test client minting tokens with
`cds-service token`); the public JWK Set is what the service's trust file names
(`jwks_file`). Both carry the same `kid`, which every token header must repeat.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from cds_service.commands.jwt_tools import (
    SIGNING_ALGORITHMS,
    KeyFileError,
    LoadedKey,
    jwk_set,
    load_key,
    new_key,
    private_jwk,
    public_jwk,
)

keys = typer.Typer(
    help="Make a signing key pair (private JWK + public JWK Set), or convert a PEM key.",
    no_args_is_help=True,
)

EXIT_USAGE = 2


@keys.command("new")
def new(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for the two files (created).")
    ] = Path("."),
    name: Annotated[
        str, typer.Option(help="File name stem, e.g. the client's name.")
    ] = "cds-client",
    alg: Annotated[
        str, typer.Option(help=f"Signing algorithm: {', '.join(SIGNING_ALGORITHMS)}.")
    ] = "ES384",
    kid: Annotated[
        str | None, typer.Option(help="Key id. Default: the key's RFC 7638 thumbprint.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Write NAME.private.jwk.json (secret) and NAME.jwks.json (public, for the trust file)."""
    private_path = out / f"{name}.private.jwk.json"
    public_path = out / f"{name}.jwks.json"
    if not force:
        for path in (private_path, public_path):
            if path.exists():
                typer.echo(f"{path} exists; use --force to overwrite it", err=True)
                raise typer.Exit(EXIT_USAGE)
    try:
        loaded = new_key(alg, kid)
    except KeyFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--alg") from None
    out.mkdir(parents=True, exist_ok=True)
    _write_private(private_path, json.dumps(private_jwk(loaded), indent=2) + "\n")
    public_path.write_text(json.dumps(jwk_set(public_jwk(loaded)), indent=2) + "\n")
    typer.echo(f"Wrote {private_path} (PRIVATE: stays with the client that signs; mode 600)")
    typer.echo(f"Wrote {public_path} (public JWK Set: goes to the CDS service)")
    _next_steps(loaded, public_path, private_path)


@keys.command("jwks")
def jwks(
    key_file: Annotated[
        Path, typer.Argument(metavar="KEY", help="A PEM key (public or private) or a JWK.")
    ],
    kid: Annotated[
        str | None,
        typer.Option(help="Key id the client puts in its tokens. Default: the thumbprint."),
    ] = None,
    alg: Annotated[
        str | None, typer.Option(help="Signing algorithm (default from the key).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the public JWK Set of a key (e.g. an EHR's PEM public key) for a trust file."""
    try:
        loaded = load_key(key_file, kid=kid, alg=alg, private=False)
    except KeyFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    text = json.dumps(jwk_set(public_jwk(loaded)), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(f"Wrote {out} (kid {loaded.kid}, {loaded.alg})", err=True)


def _write_private(path: Path, text: str) -> None:
    """Created 0600 from the start (never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an existing file (--force) keeps its old mode otherwise


def _next_steps(loaded: LoadedKey, public_path: Path, private_path: Path) -> None:
    typer.echo(
        f"""
kid {loaded.kid}, {loaded.alg}. Trust file entry for the service (CDS_TRUST_FILE):

[[clients]]
name = "{private_path.name.removesuffix('.private.jwk.json')}"
iss = "https://ehr.example.org"   # exactly the iss your tokens carry
algorithms = ["{loaded.alg}"]
jwks_file = "{public_path}"   # relative to the trust file's directory

A test token for one endpoint (aud is that exact URL; each token works once):

cds-service token http://127.0.0.1:8080/cds-services --key {private_path} \\
    --iss https://ehr.example.org"""
    )
