"""Verify the JWT an EHR sends with every CDS Hooks call (CDS Hooks 2.0, "Trusting CDS Clients").

Order matters: nothing from the token is trusted until its signature checks, and the
unverified payload is read for one thing only, `iss`, to pick the client whose keys and
rules apply. The algorithm comes from that client's allowlist, never from the token alone,
and the key must be of the kind the algorithm needs (no RSA/EC or public-key-as-HMAC
confusion). The replay record is written last, so a token that fails any other check does
not burn its `jti`.

Every refusal raises `Unauthorized(reason)` and logs the reason with `iss`, `kid` and `jti`
(sanitised and truncated: they come from an unverified token). The token itself and every
other claim value are never logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from joserfc import jws
from joserfc.errors import JoseError
from sqlalchemy.exc import SQLAlchemyError

from cds_service.errors import ServiceUnavailable, Unauthorized
from cds_service.security.jwks import JwksCache
from cds_service.security.keys import ASYMMETRIC_ALGORITHMS, key_fits
from cds_service.security.principal import AuthenticatedClient
from cds_service.security.replay import ReplayStore
from cds_service.security.trust import TrustConfig, TrustedClient

log = logging.getLogger(__name__)

MAX_TOKEN_BYTES = 16_384
MAX_JTI_LENGTH = 256
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _Refused(Exception):
    """Internal: one failed check, with the log level it deserves."""

    def __init__(self, reason: str, level: int = logging.INFO) -> None:
        super().__init__(reason)
        self.reason = reason
        self.level = level


def _suspicious(reason: str) -> _Refused:
    """A refusal that looks like an attack or a broken client, not routine expiry."""
    return _Refused(reason, logging.WARNING)


@dataclass(slots=True)
class _Seen:
    """What the log line may say about the token: never the token, never other claims."""

    iss: str | None = None
    kid: str | None = None
    jti: str | None = None


class JwtVerifier:
    """Checks a bearer token against the trust configuration; one instance per process."""

    def __init__(
        self,
        trust: TrustConfig,
        jwks: JwksCache,
        replay: ReplayStore,
        *,
        clock_skew: int,
        max_lifetime: int,
        now: Callable[[], float] = time.time,
        max_token_bytes: int = MAX_TOKEN_BYTES,
    ) -> None:
        self._trust = trust
        self._jwks = jwks
        self._replay = replay
        self._skew = clock_skew
        self._max_lifetime = max_lifetime
        self._now = now
        self._max_token_bytes = max_token_bytes

    async def verify(self, token: str, audience: str) -> AuthenticatedClient:
        """The verified caller, or `Unauthorized` (the reason is logged, never answered)."""
        seen = _Seen()
        try:
            return await self._verify(token, audience, seen)
        except _Refused as refusal:
            log.log(
                refusal.level,
                "jwt refused: %s (iss=%s kid=%s jti=%s)",
                refusal.reason,
                _safe(seen.iss),
                _safe(seen.kid),
                _safe(seen.jti),
            )
            raise Unauthorized(refusal.reason) from None

    async def _verify(self, token: str, audience: str, seen: _Seen) -> AuthenticatedClient:
        header, payload_peek = _split(token, self._max_token_bytes)
        seen.kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        iss = payload_peek.get("iss")
        seen.iss = iss if isinstance(iss, str) else None
        jti = payload_peek.get("jti")
        seen.jti = jti if isinstance(jti, str) else None

        alg, kid, jku = _check_header(header)
        if not isinstance(iss, str) or not iss:
            raise _Refused("iss missing")
        client = self._trust.client(iss)
        if client is None:
            raise _suspicious("iss not trusted")
        if alg not in client.algorithms:
            raise _suspicious(f"alg {alg} not allowed for this client")
        if jku is not None and jku not in client.allowed_jku:
            raise _suspicious("jku not allowlisted for this client")

        key = await self._jwks.find_key(client, kid, jku)
        if key is None:
            raise _suspicious("no key with this kid for this client")
        if not key_fits(key, alg):
            raise _suspicious(f"key type does not match alg {alg}")
        try:
            verified = jws.deserialize_compact(token, key, algorithms=[alg])
        except JoseError as exc:
            raise _suspicious(f"signature not valid ({exc.error})") from None
        except (ValueError, TypeError):
            raise _suspicious("signature not valid") from None
        claims = _json_object(verified.payload, "payload")

        exp = self._check_claims(claims, client, audience)
        tenant = claims.get("tenant")
        jti = claims["jti"]
        await self._remember(client, jti, exp)
        return AuthenticatedClient(
            issuer=client.iss,
            tenant=tenant if isinstance(tenant, str) else None,
            jti=jti,
            fhir_servers=client.fhir_servers,
        )

    def _check_claims(self, claims: dict[str, Any], client: TrustedClient, audience: str) -> float:
        """All claim checks after the signature; returns `exp`."""
        if claims.get("iss") != client.iss:
            raise _suspicious("iss changed between peek and verification")
        if not _audience_matches(claims.get("aud"), audience):
            raise _Refused("aud does not name this endpoint", logging.WARNING)
        now = self._now()
        exp = _numeric(claims, "exp")
        iat = _numeric(claims, "iat")
        if exp <= now - self._skew:
            raise _Refused("token expired")
        if iat > now + self._skew:
            raise _Refused("iat in the future")
        if "nbf" in claims and _numeric(claims, "nbf") > now + self._skew:
            raise _Refused("token not yet valid (nbf)")
        if exp < iat:
            raise _suspicious("exp before iat")
        if exp - iat > self._max_lifetime:
            raise _Refused("token lifetime longer than allowed")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH or not _utf8(jti):
            raise _Refused("jti missing or not a usable string")
        tenant = claims.get("tenant")
        if isinstance(tenant, str) and not _utf8(tenant):
            raise _Refused("tenant not a usable string")
        if client.tenants is not None and (
            not isinstance(tenant, str) or tenant not in client.tenants
        ):
            raise _suspicious("tenant not allowed for this client")
        return exp

    async def _remember(self, client: TrustedClient, jti: str, exp: float) -> None:
        # Kept until the token could no longer pass the exp check (exp + skew).
        until = datetime.fromtimestamp(exp + self._skew, UTC)
        try:
            fresh = await anyio.to_thread.run_sync(self._replay.remember, client.iss, jti, until)
        except SQLAlchemyError as exc:
            # Fail closed: without the replay check a stolen token could be reused. The
            # caller is not at fault: 503, and one log line (no traceback).
            log.error("replay store unavailable (%s); refusing the call", type(exc).__name__)
            raise ServiceUnavailable() from None
        if not fresh:
            raise _suspicious("jti already used (replay)")


def _split(token: str, max_bytes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compact JWS syntax: three base64url parts; header and (unverified) payload as objects."""
    if len(token) > max_bytes:
        raise _suspicious(f"token longer than {max_bytes} bytes")
    parts = token.split(".")
    if len(parts) != 3 or not all(_B64URL.fullmatch(part) for part in parts):
        raise _suspicious("not a compact JWS")
    return (
        _json_object(_b64decode(parts[0]), "header"),
        _json_object(_b64decode(parts[1]), "payload"),
    )


def _b64decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise _suspicious("not a compact JWS (base64url)") from None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError("duplicate member")
        result[name] = value
    return result


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard number {name}")


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Strict JSON: an object, no duplicate members (parsers disagree on which wins), no NaN."""
    try:
        value = json.loads(
            raw, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError):
        raise _suspicious(f"{what} is not strict JSON") from None
    if not isinstance(value, dict):
        raise _suspicious(f"{what} is not a JSON object")
    return value


def _check_header(header: dict[str, Any]) -> tuple[str, str, str | None]:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ASYMMETRIC_ALGORITHMS:
        raise _suspicious("alg missing or not an accepted asymmetric algorithm")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.upper() != "JWT":
        raise _Refused("typ is not JWT")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _Refused("kid missing")
    jku = header.get("jku")
    if jku is not None and not isinstance(jku, str):
        raise _suspicious("jku is not a string")
    if "crit" in header:
        raise _suspicious("crit header not supported")
    return alg, kid, jku


def _utf8(value: str) -> bool:
    """False for a string holding a lone surrogate: JSON's `\\ud800` escape decodes to one,
    and it has no UTF-8 form (the replay key, the log and the database all need one)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _numeric(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Refused(f"{name} missing or not a number")
    number = float(value)
    if not math.isfinite(number):
        raise _Refused(f"{name} not a finite number")
    return number


def _normalise_url(url: str) -> tuple[str, str, int | None, str, str] | None:
    """Scheme and host compared case-insensitively, default port dropped, trailing '/' ignored."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    return scheme, (parts.hostname or ""), port, parts.path.rstrip("/"), parts.query


def _audience_matches(aud: object, audience: str) -> bool:
    """`aud` is our endpoint URL, or an array that contains it (CDS Hooks 2.0)."""
    ours = _normalise_url(audience)
    if ours is None:
        return False
    if isinstance(aud, str):
        candidates = [aud]
    elif isinstance(aud, list) and all(isinstance(item, str) for item in aud):
        candidates = aud
    else:
        return False
    return any(_normalise_url(item) == ours for item in candidates)


def _safe(value: str | None, limit: int = 128) -> str:
    """A log-safe rendering of an unverified header/claim value (no control chars, bounded)."""
    if value is None:
        return "-"
    cleaned = _UNPRINTABLE.sub("?", value[:limit])
    return cleaned + ("..." if len(value) > limit else "")
