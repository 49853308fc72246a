"""Public verification keys: which JWKs we accept, and which key may check which algorithm.

Shared by the trust-file loader (inline keys, checked strictly at start-up) and the JWKS
cache (fetched keys, where one odd key must not make a whole key set unusable).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from joserfc.jwk import ECKey, JWKRegistry, RSAKey

VerifyKey = ECKey | RSAKey

ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
"""The only algorithms a client may be configured for: no `none`, no HMAC (CDS Hooks 2.0)."""

# alg -> (kty, crv); RSA has no curve. This table is what stops key confusion.
_KEY_FOR_ALG: dict[str, tuple[str, str | None]] = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    **{f"{family}{bits}": ("RSA", None) for family in ("RS", "PS") for bits in (256, 384, 512)},
}

MIN_RSA_BITS = 2048
_EC_CURVES = frozenset({"P-256", "P-384", "P-521"})
# Members that only a private (or symmetric) JWK has: a verifier must never hold them.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MAX_KID_LENGTH = 256
MAX_KEYS_PER_SET = 100


class UnusableKey(ValueError):
    """A JWK we refuse to use, with the reason."""


def import_public_jwk(doc: object) -> VerifyKey:
    """A public EC or RSA signing key with a `kid`, or `UnusableKey` saying why not."""
    if not isinstance(doc, Mapping):
        raise UnusableKey("a key must be a JSON object")
    kty = doc.get("kty")
    if kty not in ("EC", "RSA"):
        raise UnusableKey(f"kty {kty!r} is not supported (only EC and RSA)")
    private = sorted(_PRIVATE_MEMBERS.intersection(doc))
    if private:
        raise UnusableKey(f"holds private key members {private}; publish the public key only")
    kid = doc.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        raise UnusableKey("has no usable kid")
    use = doc.get("use")
    if use is not None and use != "sig":
        raise UnusableKey(f"kid {kid!r}: use {use!r} is not 'sig'")
    ops = doc.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise UnusableKey(f"kid {kid!r}: key_ops does not allow 'verify'")
    crv = doc.get("crv")
    if kty == "EC" and (not isinstance(crv, str) or crv not in _EC_CURVES):
        raise UnusableKey(f"kid {kid!r}: curve {crv!r} is not supported")
    if kty == "RSA" and _modulus_bits(doc.get("n")) < MIN_RSA_BITS:
        raise UnusableKey(f"kid {kid!r}: RSA key shorter than {MIN_RSA_BITS} bits")
    try:
        key = JWKRegistry.import_key(dict(doc))
    except Exception as exc:  # joserfc raises several types for malformed members
        raise UnusableKey(f"kid {kid!r}: not a valid {kty} key ({type(exc).__name__})") from None
    if not isinstance(key, ECKey | RSAKey):  # pragma: no cover - kty was checked above
        raise UnusableKey(f"kid {kid!r}: unexpected key type")
    return key


def parse_jwk_set(doc: object) -> tuple[dict[str, VerifyKey], list[str]]:
    """Keys of a JWK Set by kid, and the problems with the keys that were left out.

    The first key wins when a kid repeats (the spec requires kids to be unique in a set).
    """
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        raise UnusableKey('a JWK Set must be a JSON object with a "keys" array')
    raw_keys: list[Any] = doc["keys"]
    if len(raw_keys) > MAX_KEYS_PER_SET:
        raise UnusableKey(f"more than {MAX_KEYS_PER_SET} keys in one set")
    keys: dict[str, VerifyKey] = {}
    problems: list[str] = []
    for index, raw in enumerate(raw_keys):
        try:
            key = import_public_jwk(raw)
        except UnusableKey as exc:
            problems.append(f"keys[{index}]: {exc}")
            continue
        kid = str(key.kid)
        if kid in keys:
            problems.append(f"keys[{index}]: kid {kid!r} repeats an earlier key")
            continue
        keys[kid] = key
    return keys, problems


def key_fits(key: VerifyKey, alg: str) -> bool:
    """True when `key` may verify an `alg` signature (kty, curve, and the key's own limits).

    This is the key-confusion guard: an RSA key never checks an ES token, a P-256 key never
    checks ES384, and a key pinned to one `alg` checks nothing else.
    """
    wanted = _KEY_FOR_ALG.get(alg)
    if wanted is None:
        return False
    kty, crv = wanted
    if key.key_type != kty:
        return False
    if isinstance(key, ECKey) and key.curve_name != crv:
        return False
    pinned = key.get("alg")
    return pinned is None or pinned == alg


def _modulus_bits(n: object) -> int:
    """Size of an RSA modulus from its JWK `n`, checked before import (0 when malformed)."""
    if not isinstance(n, str) or len(n) > 2_000:
        return 0
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()
