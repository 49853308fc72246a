"""Shared fixtures: an app per test (own SQLite file), a client whose every response is checked."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.databases import (  # noqa: F401  (fixtures and hooks for every test module)
    database_url,
    postgres_run_database,
    postgres_url,
    pytest_configure,
    pytest_terminal_summary,
)
from tests.invariants import assert_conformant_cds_response, assert_operation_outcome

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CONFORMANCE = FIXTURES / "conformance"

_SERVICE_CALL = re.compile(r"^/cds-services/[^/]+$")


def check_response(response: httpx.Response) -> None:
    """Every service-call answer must be a conformant CDS response or an OperationOutcome."""
    response.read()
    path = response.request.url.path
    if response.status_code >= 400 and response.request.method != "OPTIONS":
        if path.startswith("/cds-services") or response.status_code != 404:
            assert_operation_outcome(response.json())
    elif (
        response.status_code == 200
        and response.request.method == "POST"
        and _SERVICE_CALL.match(path)
    ):
        assert_conformant_cds_response(response.json())
    assert response.status_code != 500, "the service must never answer 500"


PUBLIC_TEST_IP = "93.184.216.34"  # a public address: the SSRF guard lets it through


@pytest.fixture(autouse=True)
def example_hosts_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    """`*.example.org`/`*.example.com` resolve to a public address (no DNS on test machines)."""
    import asyncio
    import socket

    original = asyncio.base_events.BaseEventLoop.getaddrinfo

    async def getaddrinfo(self, host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.endswith((".example.org", ".example.com")):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_TEST_IP, port or 443))]
        return await original(self, host, port, *args, **kwargs)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "getaddrinfo", getaddrinfo)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "profile": "development",
        "auth_required": False,
        "public_base_url": "http://testserver",
        "database_url": f"sqlite:///{tmp_path}/cds.db",
        "fhir_allowed_hosts": ["fhir.example.org"],
        "log_json": True,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    return lambda **overrides: make_settings(tmp_path, **overrides)


@pytest.fixture
def client_factory(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Build a checked TestClient for given settings (and an optional FHIR transport)."""
    opened: list[TestClient] = []

    def build(settings: Settings | None = None, **app_kwargs: Any) -> TestClient:
        app = create_app(settings or make_settings(tmp_path), **app_kwargs)
        client = TestClient(app, raise_server_exceptions=False)
        client.event_hooks["response"] = [check_response]
        client.__enter__()
        opened.append(client)
        return client

    yield build
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_factory: Callable[..., TestClient]) -> TestClient:
    return client_factory()
