"""Hostile input: whatever the token, the verifier returns a client or raises `Unauthorized`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey

from cds_service.errors import Unauthorized
from cds_service.security.jwks import JwksCache
from cds_service.security.jwt import JwtVerifier
from cds_service.security.principal import AuthenticatedClient
from cds_service.security.replay import ReplayStore
from cds_service.security.trust import TrustConfig, TrustedClient
from cds_service.store.db import init_schema, make_engine
from tests.security.helpers import AUD, EHR_ISS, b64, encode, mint, public_jwks

KEY = ECKey.generate_key("P-384", parameters={"kid": "ec-1"})

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected fetch of {request.url}")


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> JwtVerifier:
    path: Path = tmp_path_factory.mktemp("fuzz") / "t.db"
    engine = make_engine(f"sqlite:///{path}")
    init_schema(engine)
    trust = TrustConfig((TrustedClient(iss=EHR_ISS, jwks=public_jwks(KEY)),))
    http = httpx.AsyncClient(transport=httpx.MockTransport(_no_network))
    return JwtVerifier(
        trust, JwksCache(http), ReplayStore(engine), clock_skew=60, max_lifetime=3600
    )


def outcome(verifier: JwtVerifier, token: str) -> AuthenticatedClient | None:
    try:
        return asyncio.run(verifier.verify(token, AUD))
    except Unauthorized:
        return None


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text(max_size=400) | st.from_regex(r"[A-Za-z0-9_\-]{0,60}(\.[A-Za-z0-9_\-]{0,60}){2}"))
def test_random_strings(verifier: JwtVerifier, token: str) -> None:
    assert outcome(verifier, token) is None


@FUZZ
@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "typ", "kid", "jku", "crit", "x5u"]), json_values
    ),
    payload=st.dictionaries(
        st.sampled_from(["iss", "aud", "exp", "iat", "nbf", "jti", "tenant"]), json_values
    ),
    signature=st.binary(max_size=120),
)
def test_random_headers_and_claims_unsigned(
    verifier: JwtVerifier, header: dict[str, Any], payload: dict[str, Any], signature: bytes
) -> None:
    assert outcome(verifier, f"{encode(header)}.{encode(payload)}.{b64(signature)}") is None


@FUZZ
@given(
    extra=st.dictionaries(
        st.sampled_from(["aud", "exp", "iat", "nbf", "jti", "tenant"]), json_values
    ),
)
def test_validly_signed_tokens_with_random_claims(
    verifier: JwtVerifier, extra: dict[str, Any]
) -> None:
    now = int(time.time())
    values: dict[str, Any] = {"iss": EHR_ISS, "aud": AUD, "iat": now, "exp": now + 300}
    values.update(extra)
    client = outcome(verifier, mint(KEY, values))
    if client is not None:  # then every rule really held
        assert client.issuer == EHR_ISS
        assert isinstance(values["jti"], str) and values["jti"]
        assert values["aud"] == AUD or AUD in values["aud"]
