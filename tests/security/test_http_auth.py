"""Authentication through the app: bare 401s, sandbox tokens accepted, preflight without a token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_service.settings import Settings
from tests.security.helpers import (
    SANDBOX_ISS,
    SANDBOX_JKU,
    SANDBOX_KID,
    claims,
    mint,
    sandbox_private_key,
)

DISCOVERY = "http://testserver/cds-services"


def sandbox_token(aud: str = DISCOVERY, **extra: Any) -> str:
    return mint(
        sandbox_private_key(),
        claims(iss=SANDBOX_ISS, aud=aud, **extra),
        kid=SANDBOX_KID,
        jku=SANDBOX_JKU,
    )


@pytest.fixture
def app_client(
    settings_factory: Callable[..., Settings], client_factory: Callable[..., TestClient]
) -> TestClient:
    return client_factory(
        settings_factory(auth_required=True, profile="sandbox", public_base_url="http://testserver")
    )


def assert_bare_401(response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    text = response.text.lower()
    for detail in ("expired", "signature", "audience", "jti", "kid", "issuer", "replay", "alg"):
        assert detail not in text


def test_discovery_without_token_is_a_bare_401(app_client: TestClient) -> None:
    assert_bare_401(app_client.get("/cds-services"))


def test_the_log_says_plainly_that_no_token_came(
    app_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert_bare_401(app_client.get("/cds-services"))
    lines = [line for line in capsys.readouterr().err.splitlines() if "auth refused" in line]
    assert lines and "no Authorization header of type 'Bearer'" in lines[0], lines
    assert "[REDACTED]" not in lines[0]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer garbage", "Basic dXNlcjpwYXNz", "Bearer ", "bearer a.b.c"],
)
def test_bad_tokens_get_the_same_answer(app_client: TestClient, authorization: str) -> None:
    baseline = app_client.get("/cds-services")
    response = app_client.get("/cds-services", headers={"Authorization": authorization})
    assert_bare_401(response)
    assert response.content == baseline.content


def test_sandbox_token_opens_discovery(app_client: TestClient) -> None:
    response = app_client.get(
        "/cds-services", headers={"Authorization": f"Bearer {sandbox_token()}"}
    )
    assert response.status_code == 200
    assert "services" in response.json()


def test_a_token_works_once(app_client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {sandbox_token()}"}
    assert app_client.get("/cds-services", headers=headers).status_code == 200
    assert_bare_401(app_client.get("/cds-services", headers=headers))


def test_a_token_for_another_endpoint_is_refused(app_client: TestClient) -> None:
    token = sandbox_token(aud=f"{DISCOVERY}/some-other-service")
    assert_bare_401(app_client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}))


def test_expired_sandbox_token_is_refused(app_client: TestClient) -> None:
    token = sandbox_token(iat=1_600_000_000, exp=1_600_000_300)
    assert_bare_401(app_client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}))


def test_preflight_needs_no_token(app_client: TestClient) -> None:
    response = app_client.options(
        "/cds-services",
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == "https://sandbox.cds-hooks.org"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_production_does_not_trust_the_sandbox(
    settings_factory: Callable[..., Settings], client_factory: Callable[..., TestClient]
) -> None:
    client = client_factory(
        settings_factory(
            auth_required=True, profile="production", public_base_url="http://testserver"
        )
    )
    assert_bare_401(
        client.get("/cds-services", headers={"Authorization": f"Bearer {sandbox_token()}"})
    )
