"""Fixtures for the FHIR layer: a fake DNS, a respx-mocked EHR FHIR server, request builders.

No test here touches the network: names resolve through `FAKE_DNS`, HTTP goes to respx.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import respx

from cds_service.fhir.client import FhirClient
from tests.fhir.helpers import BASE

FAKE_DNS: dict[str, list[str]] = {
    "fhir.example.org": ["93.184.216.34"],
    "other.example.org": ["93.184.216.35"],
    "rebind.example.org": ["93.184.216.36", "127.0.0.1"],
    "internal.example.org": ["10.1.2.3"],
    "v6.example.org": ["2606:2800:220:1:248:1893:25c8:1946"],
    "mapped.example.org": ["::ffff:127.0.0.1"],
}


@pytest.fixture(autouse=True)
async def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Replace the loop's getaddrinfo; unknown names fail like NXDOMAIN."""
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: str, port: int, **_: Any) -> list[Any]:
        if host not in FAKE_DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out = []
        for ip in FAKE_DNS[host]:
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            addr = (ip, port, 0, 0) if family == socket.AF_INET6 else (ip, port)
            out.append((family, socket.SOCK_STREAM, 6, "", addr))
        return out

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return FAKE_DNS


@pytest.fixture
def fhir() -> Iterator[respx.MockRouter]:
    """The EHR's FHIR server. Unmatched requests fail the test."""
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def client() -> AsyncIterator[FhirClient]:
    fhir_client = FhirClient.create(2.0)
    yield fhir_client
    await fhir_client.aclose()
