"""Token minting for the security tests: any header, any claims, real signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_DIR = ROOT / "fixtures" / "conformance" / "sandbox"
SPEC_TOKEN_FILE = (
    ROOT
    / "fixtures"
    / "conformance"
    / "cds-hooks"
    / "cds-hooks-spec-2.0.1__example-jwt-expired.txt"
)

SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"

# The CDS Hooks 2.0.1 spec's example public key ("Trusting CDS Clients",
# HL7/cds-hooks input/pagecontent/index.md); it verifies the spec's example token.
SPEC_JWKS: dict[str, Any] = {
    "keys": [
        {
            "kty": "EC",
            "use": "sig",
            "crv": "P-384",
            "kid": "example-kid",
            "x": "46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk",
            "y": "XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI",
            "alg": "ES384",
        }
    ]
}
SPEC_ISS = "https://fhir-ehr.example.com/"
SPEC_JKU = "https://fhir-ehr.example.com/jwk_uri"
SPEC_AUD = "https://cds.example.org/cds-services/some-service"

EHR_ISS = "https://ehr.example.org/fhir"
EHR_JWKS_URL = "https://ehr.example.org/.well-known/jwks.json"
EHR_JKU = "https://ehr.example.org/jku/jwks.json"
EHR_FHIR = "https://ehr.example.org/fhir"
TENANT_ISS = "https://multi.example.net"
BASE = "http://127.0.0.1:8080"
AUD = f"{BASE}/cds-services/muscle-cramps-order-sign"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def sign(signing_input: str, key: ECKey | RSAKey, alg: str) -> str:
    return b64(JWSRegistry.algorithms[alg].sign(signing_input.encode(), key))


def mint(
    key: ECKey | RSAKey | None,
    claims: dict[str, Any],
    *,
    alg: str = "ES384",
    kid: str | None = "ec-1",
    typ: str | None = "JWT",
    jku: str | None = None,
    extra_header: dict[str, Any] | None = None,
    raw_payload: str | None = None,
) -> str:
    """A compact JWS; `None` header values are left out, `key=None` gives an empty signature."""
    header: dict[str, Any] = {"alg": alg, "typ": typ, "kid": kid, "jku": jku}
    header = {name: value for name, value in header.items() if value is not None}
    header.update(extra_header or {})
    signing_input = f"{encode(header)}.{raw_payload or encode(claims)}"
    signature = sign(signing_input, key, alg) if key is not None else ""
    return f"{signing_input}.{signature}"


def mint_hmac(secret: bytes, claims: dict[str, Any], *, kid: str, alg: str = "HS256") -> str:
    """The classic key-confusion forgery: HMAC keyed with the verifier's *public* key."""
    signing_input = f"{encode({'alg': alg, 'typ': 'JWT', 'kid': kid})}.{encode(claims)}"
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384}[alg]
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), digest).digest())}"


def claims(
    *,
    iss: str = EHR_ISS,
    aud: Any = AUD,
    now: float | None = None,
    lifetime: int = 300,
    **extra: Any,
) -> dict[str, Any]:
    """Claims like a real EHR sends: iss, aud, iat, exp = iat + 5 min, a fresh jti."""
    issued = int(now if now is not None else time.time())
    values: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": str(uuid.uuid4()),
    }
    values.update(extra)
    return {name: value for name, value in values.items() if value is not None}


def sandbox_private_key() -> ECKey:
    doc = json.loads((SANDBOX_DIR / "jwk-keypair.json").read_text())
    return ECKey.import_key(doc["keys"][0])


def public_jwks(*keys: ECKey | RSAKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}
