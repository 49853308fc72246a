"""Keys, a trust configuration, a replay store on a temp SQLite file, and a verifier factory."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import Engine

from cds_service.security.jwks import JwksCache
from cds_service.security.jwt import JwtVerifier
from cds_service.security.replay import ReplayStore
from cds_service.security.trust import TrustConfig, TrustedClient, sandbox_client
from cds_service.store.db import init_schema, make_engine
from tests.security.helpers import (
    EHR_FHIR,
    EHR_ISS,
    EHR_JKU,
    EHR_JWKS_URL,
    SPEC_ISS,
    SPEC_JKU,
    SPEC_JWKS,
    TENANT_ISS,
    public_jwks,
)


@pytest.fixture(scope="session")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": "ec-1"})


@pytest.fixture(scope="session")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})


@pytest.fixture(scope="session")
def other_ec_key() -> ECKey:
    """An attacker's key that claims a trusted kid."""
    return ECKey.generate_key("P-384", parameters={"kid": "ec-1"})


@pytest.fixture(scope="session")
def url_key() -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": "url-1"})


@pytest.fixture
def trust(ec_key: ECKey, rsa_key: RSAKey) -> TrustConfig:
    return TrustConfig(
        (
            TrustedClient(
                iss=EHR_ISS,
                name="test-ehr",
                jwks=public_jwks(ec_key, rsa_key),
                jwks_urls=(EHR_JWKS_URL,),
                allowed_jku=(EHR_JKU,),
                fhir_servers=(EHR_FHIR,),
            ),
            TrustedClient(
                iss=TENANT_ISS,
                jwks=public_jwks(ec_key),
                tenants=("tenant-a", "tenant-b"),
            ),
            TrustedClient(iss=SPEC_ISS, jwks=SPEC_JWKS, allowed_jku=(SPEC_JKU,)),
            sandbox_client(),
        )
    )


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    init_schema(engine)
    return engine


@pytest.fixture
def replay(db: Engine) -> ReplayStore:
    return ReplayStore(db)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        yield client


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    """Every outgoing request is intercepted; an unmocked one fails the test."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


class Clock:
    """A settable clock for the JWKS cache's rate limit."""

    def __init__(self) -> None:
        self.value = 1_000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_verifier(
    trust: TrustConfig,
    http: httpx.AsyncClient,
    replay: ReplayStore,
    clock: Clock,
) -> Callable[..., JwtVerifier]:
    def build(
        *,
        trust_config: TrustConfig | None = None,
        now: float | None = None,
        clock_skew: int = 60,
        max_lifetime: int = 3600,
        **cache_options: Any,
    ) -> JwtVerifier:
        fixed = now
        return JwtVerifier(
            trust_config or trust,
            JwksCache(http, clock=clock, **cache_options),
            replay,
            clock_skew=clock_skew,
            max_lifetime=max_lifetime,
            now=(lambda: fixed) if fixed is not None else time.time,
        )

    return build


@pytest.fixture
def verifier(make_verifier: Callable[..., JwtVerifier], mock_http: respx.MockRouter) -> JwtVerifier:
    return make_verifier()
