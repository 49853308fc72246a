"""CORS origins a tester really uses, and a refused origin named in the service log (issue 12,
item 4). A local sandbox is `npm run dev` on 8080 (8081 once the service holds 8080) or a build
served on 3000, opened as localhost or 127.0.0.1: different origins to a browser."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from cds_service.settings import Settings
from tests.builders import service_url

LOCAL = [
    f"http://{host}:{port}" for port in (3000, 8081, 8080) for host in ("localhost", "127.0.0.1")
]
POST_PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def preflight(client: TestClient, origin: str, path: str = service_url("order-select")) -> int:
    response = client.options(path, headers={"Origin": origin, **POST_PREFLIGHT})
    allowed = response.headers.get("access-control-allow-origin")
    return response.status_code if allowed in (origin, None) else -1


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("CORS: refused")]


@pytest.mark.parametrize("profile", ["development", "sandbox"])
def test_test_profiles_allow_the_hosted_and_every_local_sandbox_origin(
    settings_factory: Callable[..., Settings], profile: str
) -> None:
    settings = settings_factory(profile=profile)
    assert settings.cors_origins == ["https://sandbox.cds-hooks.org", *LOCAL]


def test_production_allows_no_origin_by_default(
    settings_factory: Callable[..., Settings],
) -> None:
    assert settings_factory(profile="production").cors_origins == []


@pytest.mark.parametrize("origin", LOCAL)
def test_a_local_sandbox_preflight_passes_on_either_host_name(
    client_factory: Callable[..., TestClient],
    settings_factory: Callable[..., Settings],
    origin: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = client_factory(settings_factory(profile="sandbox", auth_required=True))
    response = client.options(service_url("order-select"), headers={"Origin": origin, **POST_PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert refusals(caplog) == []


def test_a_refused_origin_is_named_in_the_log_once(
    client_factory: Callable[..., TestClient],
    settings_factory: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    client = client_factory(settings_factory(profile="sandbox"))
    origin = "http://127.0.0.1:5173"
    response = client.options(service_url("order-select"), headers={"Origin": origin, **POST_PREFLIGHT})
    assert response.status_code == 400  # the browser blocks the call and shows no cards
    assert "access-control-allow-origin" not in response.headers
    client.options(service_url("order-select"), headers={"Origin": origin, **POST_PREFLIGHT})
    client.get("/cds-services", headers={"Origin": origin})
    [line] = refusals(caplog)
    assert f"refused the browser origin {origin} (not in CDS_CORS_ORIGINS" in line
    assert "http://localhost:3000" in line  # what is allowed, to compare with
    client.options(service_url("order-select"), headers={"Origin": "http://localhost:5173", **POST_PREFLIGHT})
    assert len(refusals(caplog)) == 2


def test_production_without_origins_names_a_browser_caller_too(
    client_factory: Callable[..., TestClient],
    settings_factory: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    client = client_factory(settings_factory(profile="production"))
    client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    [line] = refusals(caplog)
    assert "https://ehr.example.org" in line and "allowed: none" in line


def test_same_origin_and_server_to_server_calls_are_not_logged(
    client_factory: Callable[..., TestClient],
    settings_factory: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    client = client_factory(settings_factory(profile="production"))
    client.get("/cds-services")  # an EHR's server: no Origin
    client.get("/cds-services", headers={"Origin": "http://testserver"})  # our own page
    assert refusals(caplog) == []


def test_a_hostile_origin_is_logged_bounded_and_printable(
    client_factory: Callable[..., TestClient],
    settings_factory: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    client = client_factory(settings_factory(profile="production"))
    client.get("/cds-services", headers={"Origin": "http://x\x1b[31m" + "a" * 5000})
    [line] = refusals(caplog)
    assert "\x1b" not in line and len(line) < 1000
    for n in range(40):
        client.get("/cds-services", headers={"Origin": f"http://o{n}.example.org"})
    lines = refusals(caplog)
    assert len(lines) == 32 and any("not logged" in r.getMessage() for r in caplog.records)
