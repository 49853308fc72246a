"""CORS for browser clients such as the CDS Hooks Sandbox (checklist §7.3, §14)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.builders import service_url

SANDBOX = "https://sandbox.cds-hooks.org"


@pytest.fixture
def secured(client_factory, settings_factory) -> TestClient:  # type: ignore[no-untyped-def]
    return client_factory(settings_factory(auth_required=True, profile="sandbox"))


@pytest.mark.parametrize(
    ("path", "asks"),
    [
        ("/cds-services", "authorization"),
        (service_url("order-select"), "authorization,content-type"),
        (service_url("order-sign") + "/feedback", "authorization,content-type"),
    ],
)
def test_preflight_needs_no_token(secured: TestClient, path: str, asks: str) -> None:
    response = secured.options(
        path,
        headers={
            "Origin": SANDBOX,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asks,
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SANDBOX
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "access-control-allow-credentials" not in response.headers


def test_errors_carry_the_allow_origin_header(secured: TestClient) -> None:
    response = secured.get("/cds-services", headers={"Origin": SANDBOX})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == SANDBOX


def test_look_alike_origin_is_not_allowed(secured: TestClient) -> None:
    response = secured.options(
        "/cds-services",
        headers={
            "Origin": "https://sandbox.cds-hooks.org.evil.com",
            "Access-Control-Request-Method": "GET",
        },
    )
    assert response.headers.get("access-control-allow-origin") is None


def test_private_network_preflight_is_answered(secured: TestClient) -> None:
    response = secured.options(
        "/cds-services",
        headers={
            "Origin": SANDBOX,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == SANDBOX
    assert response.headers["access-control-allow-private-network"] == "true"


def test_production_refuses_wildcard_cors(settings_factory) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="CORS"):
        settings_factory(profile="production", cors_origins=["*"])
