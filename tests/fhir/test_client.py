"""FhirClient: one safe GET. Bearer only when given, no redirects, size cap, JSON objects only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
import respx

from cds_service.fhir.client import FhirClient
from cds_service.fhir.errors import (
    FhirAccessDenied,
    FhirResponseInvalid,
    FhirStatusError,
    FhirUnavailable,
)
from tests.fhir.helpers import BASE, TOKEN, patient

URL = f"{BASE}/Patient/pat-123"


async def test_bearer_token_and_accept_sent(fhir: respx.MockRouter, client: FhirClient) -> None:
    route = fhir.get("/Patient/pat-123").respond(json=patient())
    body = await client.get_json(URL, token=TOKEN, timeout=1.0)
    assert body.id == "pat-123"
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/fhir+json"


async def test_no_authorization_without_token(fhir: respx.MockRouter, client: FhirClient) -> None:
    route = fhir.get("/Patient/pat-123").respond(json=patient())
    await client.get_json(URL, token=None, timeout=1.0)
    assert "Authorization" not in route.calls.last.request.headers


async def test_fetch_reports_status_and_time(fhir: respx.MockRouter, client: FhirClient) -> None:
    fhir.get("/Patient/pat-123").respond(203, json=patient())
    reply = await client.fetch(URL, token=None, timeout=1.0)
    assert reply.status_code == 203 and reply.elapsed_ms >= 0


async def test_accepts_an_already_parsed_url(fhir: respx.MockRouter, client: FhirClient) -> None:
    route = fhir.get("/Observation").respond(json={"resourceType": "Bundle", "type": "searchset"})
    url = httpx.URL(f"{BASE}/Observation?patient=pat-123&code=http%3A%2F%2Floinc.org%7C2823-3")
    reply = await client.fetch(url, token=None, timeout=1.0)
    assert reply.body.resourceType == "Bundle"
    assert route.calls.last.request.url == url


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirect_not_followed(
    status: int, fhir: respx.MockRouter, client: FhirClient
) -> None:
    """A redirect could lead off the allowed base with the token: it is an error, not a hop."""
    fhir.get("/Patient/pat-123").respond(status, headers={"Location": "https://evil.com/x"})
    evil = fhir.route(host="evil.com").respond(json=patient())
    with pytest.raises(FhirStatusError) as caught:
        await client.get_json(URL, token=TOKEN, timeout=1.0)
    assert caught.value.status_code == status
    assert not evil.called


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 429, 500, 503])
async def test_error_status(status: int, fhir: respx.MockRouter, client: FhirClient) -> None:
    fhir.get("/Patient/pat-123").respond(status, json={"resourceType": "OperationOutcome"})
    with pytest.raises(FhirStatusError) as caught:
        await client.get_json(URL, token=TOKEN, timeout=1.0)
    assert caught.value.status_code == status
    assert str(caught.value) == f"FHIR server fhir.example.org: HTTP {status}"


@pytest.mark.parametrize(
    "content",
    [b"<html>oops</html>", b"", b"[1, 2]", b'"Patient"', b"{}", b'{"resourceType": 7}'],
)
async def test_unusable_body(content: bytes, fhir: respx.MockRouter, client: FhirClient) -> None:
    fhir.get("/Patient/pat-123").respond(200, content=content)
    with pytest.raises(FhirResponseInvalid):
        await client.get_json(URL, token=None, timeout=1.0)


async def test_declared_size_over_cap(fhir: respx.MockRouter) -> None:
    client = FhirClient.create(1.0, max_bytes=1_000)
    fhir.get("/Patient/pat-123").respond(200, content=b"{}", headers={"Content-Length": "50000000"})
    with pytest.raises(FhirResponseInvalid, match="too large"):
        await client.get_json(URL, token=None, timeout=1.0)
    await client.aclose()


@pytest.mark.parametrize("declared", ["\u00b2", "\u0663", "1e9", "-1"])
async def test_odd_content_length_is_not_trusted(declared: str, fhir: respx.MockRouter) -> None:
    """str.isdigit() accepts '²' (superscript two), which int() refuses: found by fuzzing."""
    client = FhirClient.create(1.0, max_bytes=1_000)
    fhir.get("/Patient/pat-123").respond(
        200,
        content=b'{"resourceType": "Patient", "id": "pat-123"}',
        headers={"Content-Length": declared.encode()},  # type: ignore[dict-item]
    )
    assert (await client.get_json(URL, token=None, timeout=1.0)).id == "pat-123"
    await client.aclose()


async def _endless() -> AsyncIterator[bytes]:
    yield b'{"resourceType": "Bundle", "entry": ['
    while True:
        yield b'{"resource": {"resourceType": "Observation"}},' * 100


async def test_streamed_body_over_cap_is_cut_off() -> None:
    """No Content-Length: reading stops as soon as the cap is passed."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_endless())

    client = FhirClient.create(1.0, transport=httpx.MockTransport(handler), max_bytes=100_000)
    with pytest.raises(FhirResponseInvalid, match="too large"):
        await client.get_json(URL, token=None, timeout=1.0)
    await client.aclose()


async def test_cap_applies_to_decoded_gzip() -> None:
    import gzip

    raw = orjson.dumps({"resourceType": "Basic", "text": "x" * 200_000})
    packed = gzip.compress(raw)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=packed, headers={"Content-Encoding": "gzip"})

    client = FhirClient.create(1.0, transport=httpx.MockTransport(handler), max_bytes=100_000)
    assert len(packed) < 100_000
    with pytest.raises(FhirResponseInvalid, match="too large"):
        await client.get_json(URL, token=None, timeout=1.0)
    await client.aclose()


async def test_slow_server_times_out(fhir: respx.MockRouter, client: FhirClient) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.0)
        return httpx.Response(200, json=patient())

    fhir.get("/Patient/pat-123").mock(side_effect=slow)
    with pytest.raises(FhirUnavailable, match="timed out"):
        await client.get_json(URL, token=None, timeout=0.05)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), FhirUnavailable),
        (httpx.ReadTimeout("slow"), FhirUnavailable),
        (httpx.RemoteProtocolError("garbage"), FhirUnavailable),
    ],
)
async def test_transport_errors_translated(
    exc: Exception, expected: type[Exception], fhir: respx.MockRouter, client: FhirClient
) -> None:
    fhir.get("/Patient/pat-123").mock(side_effect=exc)
    with pytest.raises(expected) as caught:
        await client.get_json(URL, token=TOKEN, timeout=1.0)
    assert caught.value.__cause__ is not None


async def test_unsupported_scheme_is_denied(client: FhirClient) -> None:
    with pytest.raises(FhirAccessDenied):
        await client.get_json("ftp://fhir.example.org/r4/Patient/1", token=None, timeout=1.0)


async def test_cookies_not_kept_between_requests(fhir: respx.MockRouter) -> None:
    client = FhirClient.create(1.0)
    route = fhir.get("/Patient/pat-123").respond(
        json=patient(), headers={"Set-Cookie": "session=abc; Path=/"}
    )
    await client.get_json(URL, token=None, timeout=1.0)
    await client.get_json(URL, token=None, timeout=1.0)
    assert "cookie" not in route.calls.last.request.headers
    await client.aclose()


async def test_injected_client_gets_cookie_free_jar(fhir: respx.MockRouter) -> None:
    async with httpx.AsyncClient() as http:
        client = FhirClient(http)
        route = fhir.get("/Patient/pat-123").respond(
            json=patient(), headers={"Set-Cookie": "session=abc; Path=/"}
        )
        await client.get_json(URL, token=None, timeout=1.0)
        await client.get_json(URL, token=None, timeout=1.0)
        assert "cookie" not in route.calls.last.request.headers


def test_create_sets_explicit_config() -> None:
    client = FhirClient.create(3.0)
    http = client._http
    assert http.timeout.read == 3.0 and http.timeout.connect == 3.0
    assert http.follow_redirects is False
    assert http.headers["Accept"] == "application/fhir+json"
    asyncio.run(client.aclose())


async def test_logs_carry_no_token_or_phi(
    fhir: respx.MockRouter, client: FhirClient, caplog: pytest.LogCaptureFixture
) -> None:
    fhir.get("/Patient/pat-123").respond(json=patient())
    fhir.get("/Observation").respond(500)
    caplog.set_level(logging.DEBUG, logger="cds_service.fhir")
    await client.get_json(URL, token=TOKEN, timeout=1.0)
    with pytest.raises(FhirStatusError):
        await client.get_json(
            f"{BASE}/Observation?patient=pat-123",
            token=TOKEN,
            timeout=1.0,
            resource_type="Observation",
        )
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "host=fhir.example.org type=Patient status=200" in text
    assert "type=Observation status=500" in text
    assert TOKEN not in text and "pat-123" not in text and "/r4" not in text
