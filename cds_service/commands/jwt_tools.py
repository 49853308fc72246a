"""Keys and test tokens for `cds-service keys` and `cds-service token` (and the tests).

A CDS client (the EHR) signs every call with a private key; the service holds the matching
public key in a JWK Set, found by `kid`. These helpers make such a pair, read a private key
back from a file (a private JWK, a JWK Set holding one, or PEM, the form `openssl` and the
CDS Hooks Sandbox's repository use) and mint a token shaped like an EHR's (CDS Hooks 2.0:
`iss`, `aud` = the exact URL called, `exp`, `iat`, single-use `jti`; header `kid`, `typ: JWT`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, JWKRegistry, RSAKey

SigningKey = ECKey | RSAKey

# alg -> how to make a key for it.
_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_RSA_ALGS = frozenset(f"{family}{bits}" for family in ("RS", "PS") for bits in (256, 384, 512))
SIGNING_ALGORITHMS: tuple[str, ...] = (*_CURVES, *sorted(_RSA_ALGS))
RSA_BITS = 3072
MAX_KEY_FILE_BYTES = 100_000


class KeyFileError(ValueError):
    """A key file that cannot be used for signing; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class LoadedKey:
    key: SigningKey
    kid: str
    alg: str


def new_key(alg: str, kid: str | None = None) -> LoadedKey:
    """A fresh private key for `alg`; `kid` defaults to its RFC 7638 thumbprint."""
    key: SigningKey
    if alg in _CURVES:
        key = ECKey.generate_key(_CURVES[alg], private=True)
    elif alg in _RSA_ALGS:
        key = RSAKey.generate_key(RSA_BITS, private=True)
    else:
        choices = ", ".join(SIGNING_ALGORITHMS)
        raise KeyFileError(f"{alg!r} is not a signing algorithm here ({choices})")
    kid = kid or key.thumbprint()
    return LoadedKey(_with_kid(key, kid, alg), kid, alg)


def _with_kid(key: SigningKey, kid: str, alg: str) -> SigningKey:
    data = {**key.as_dict(private=key.is_private), "kid": kid, "alg": alg, "use": "sig"}
    imported = JWKRegistry.import_key(data)
    assert isinstance(imported, ECKey | RSAKey)
    return imported


def public_jwk(loaded: LoadedKey) -> dict[str, Any]:
    """The public half as a JWK with `kid`, `alg` and `use: sig` (what a trust file holds)."""
    data = dict(loaded.key.as_dict(private=False))
    data.update(kid=loaded.kid, alg=loaded.alg, use="sig")
    return data


def private_jwk(loaded: LoadedKey) -> dict[str, Any]:
    data = dict(loaded.key.as_dict(private=True))
    data.update(kid=loaded.kid, alg=loaded.alg, use="sig")
    return data


def jwk_set(*keys: Mapping[str, Any]) -> dict[str, Any]:
    return {"keys": [dict(k) for k in keys]}


def default_alg(key: SigningKey) -> str:
    if isinstance(key, ECKey):
        for alg, curve in _CURVES.items():
            if key.curve_name == curve:
                return alg
        raise KeyFileError(f"curve {key.curve_name} is not one CDS Hooks clients sign with")
    return "RS384"


def load_key(
    path: Path, *, kid: str | None = None, alg: str | None = None, private: bool = True
) -> LoadedKey:
    """A key from a JWK, a JWK Set (one key, or the one named `kid`) or a PEM file.

    `private=True` (signing) refuses public keys; PEM and JWKs without a `kid` get the
    thumbprint unless `kid` is given.
    """
    try:
        raw = path.read_bytes()[: MAX_KEY_FILE_BYTES + 1]
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path}: larger than {MAX_KEY_FILE_BYTES} bytes; not a key file")
    if raw.lstrip().startswith(b"-----BEGIN"):
        key = _from_pem(path, raw)
        chosen_kid = kid
    else:
        data = _json(path, raw)
        doc = _pick_jwk(path, data, kid)
        key = _from_jwk(path, doc)
        chosen_kid = kid or (doc.get("kid") if isinstance(doc.get("kid"), str) else None)
        alg = alg or (doc.get("alg") if isinstance(doc.get("alg"), str) else None)
    if private and not key.is_private:
        raise KeyFileError(
            f"{path} holds a public key: signing a token needs the private key "
            "(`cds-service keys new` writes both)"
        )
    alg = alg or default_alg(key)
    if not _fits(key, alg):
        raise KeyFileError(f"{path}: a {_describe(key)} cannot sign {alg}")
    chosen_kid = chosen_kid or key.thumbprint()
    return LoadedKey(_with_kid(key, chosen_kid, alg), chosen_kid, alg)


def _fits(key: SigningKey, alg: str) -> bool:
    if isinstance(key, ECKey):
        return _CURVES.get(alg) == key.curve_name
    return alg in _RSA_ALGS


def _describe(key: SigningKey) -> str:
    return f"{key.curve_name} EC key" if isinstance(key, ECKey) else "RSA key"


def _json(path: Path, raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        raise KeyFileError(f"{path}: neither a JWK (JSON) nor a PEM key") from None


def _pick_jwk(path: Path, data: object, kid: str | None) -> Mapping[str, Any]:
    if isinstance(data, Mapping) and isinstance(data.get("keys"), list):
        keys = [k for k in data["keys"] if isinstance(k, Mapping)]
        if kid is not None:
            keys = [k for k in keys if k.get("kid") == kid]
        if len(keys) != 1:
            what = f"no key with kid {kid!r}" if kid is not None and not keys else "several keys"
            raise KeyFileError(f"{path}: a JWK Set with {what}; name one with --kid")
        return keys[0]
    if isinstance(data, Mapping):
        return data
    raise KeyFileError(f"{path}: a JWK must be a JSON object")


def _from_jwk(path: Path, doc: Mapping[str, Any]) -> SigningKey:
    if doc.get("kty") not in ("EC", "RSA"):
        raise KeyFileError(f"{path}: kty {doc.get('kty')!r}; only EC and RSA keys sign CDS Hooks")
    try:
        key = JWKRegistry.import_key(dict(doc))
    except Exception as exc:  # joserfc raises several types for malformed members
        kind = doc.get("kty")
        raise KeyFileError(f"{path}: not a valid {kind} key ({type(exc).__name__})") from None
    assert isinstance(key, ECKey | RSAKey)
    return key


def _from_pem(path: Path, raw: bytes) -> SigningKey:
    for kty in ("EC", "RSA"):
        try:
            key = JWKRegistry.import_key(raw, kty)
        except Exception:  # not this key type: try the other
            continue
        if isinstance(key, ECKey | RSAKey):
            return key
    raise KeyFileError(f"{path}: a PEM file, but not an EC or RSA key this tool can read")


def mint_token(
    loaded: LoadedKey,
    *,
    iss: str,
    aud: str,
    lifetime: int = 300,
    jku: str | None = None,
    tenant: str | None = None,
    now: float | None = None,
) -> str:
    """A compact JWS as a CDS client sends it; `aud` is the exact URL the request goes to."""
    issued = int(time.time() if now is None else now)
    header: dict[str, Any] = {"alg": loaded.alg, "typ": "JWT", "kid": loaded.kid}
    if jku:
        header["jku"] = jku
    claims: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "exp": issued + lifetime,
        "iat": issued,
        "jti": str(uuid.uuid4()),
    }
    if tenant:
        claims["tenant"] = tenant
    payload = json.dumps(claims, separators=(",", ":"))
    return jws.serialize_compact(header, payload, loaded.key, algorithms=[loaded.alg])
