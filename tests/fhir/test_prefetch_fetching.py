"""Prefetch fallback fetching: server failures, the overall deadline, and `next` pages.

"Note that a CDS Client MAY paginate prefetch results. ... As part of pagination, the CDS
Service will typically need to authenticate to retrieve the next page." (CDS Hooks §Prefetch)
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import respx

from cds_service.fhir.client import FhirClient
from cds_service.fhir.prefetch import PrefetchResult, resolve_prefetch
from tests.fhir.helpers import (
    PATIENT_ID,
    TOKEN,
    ids,
    make_context,
    make_limits,
    make_policy,
    make_request,
    observation,
    outcome,
    patient,
    searchset,
)

TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
}


async def resolve(
    client: FhirClient, prefetch: dict[str, Any] | None = None, **limits: Any
) -> PrefetchResult:
    request = make_request(prefetch)
    return await resolve_prefetch(
        TEMPLATES, request, make_context(), client, make_policy(), make_limits(**limits)
    )


def page_url(n: int, host: str = "fhir.example.org") -> str:
    return f"https://{host}/r4/Observation?patient={PATIENT_ID}&_page={n}"


def paged(fhir: respx.MockRouter, pages: int, *, last_next: str | None = None) -> respx.Route:
    """Observation search answering `pages` pages of 2 entries, linked by `next`."""

    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("_page", "1"))
        link = page_url(n + 1) if n < pages else last_next
        body = searchset(observation(f"p{n}a"), observation(f"p{n}b"), next_url=link)
        return httpx.Response(200, json=body)

    return fhir.get("/Observation").mock(side_effect=handler)


# --- server failures: the key is "failed" with a reason (the caller decides on 412) ----------


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
async def test_error_status_fails_the_key(
    status: int, fhir: respx.MockRouter, client: FhirClient
) -> None:
    fhir.get("/Patient/pat-123").respond(status)
    fhir.get("/Observation").respond(json=searchset())
    result = await resolve(client)
    data = result.keys["patient"]
    assert data.status == "failed" and data.resources == ()
    assert data.reason == f"not fetched: FHIR server fhir.example.org: HTTP {status}"
    assert result.keys["observations"].status == "fetched"
    call = next(c for c in result.calls if c.key == "patient")
    assert (call.status_code, call.outcome, call.resource_type) == (status, "status", "Patient")


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(200, content=b"<html/>"), "response is not JSON"),
        (httpx.Response(200, json=[1]), "response is not a FHIR resource"),
        (httpx.Response(200, json=outcome()), "the server answered with an OperationOutcome"),
        (httpx.Response(302, headers={"Location": "https://evil.com/"}), "HTTP 302"),
    ],
)
async def test_unusable_answer_fails_the_key(
    response: httpx.Response, reason: str, fhir: respx.MockRouter, client: FhirClient
) -> None:
    fhir.get("/Patient/pat-123").mock(return_value=response)
    result = await resolve(client, {"observations": None})
    data = result.keys["patient"]
    assert data.status == "failed" and data.reason is not None and data.reason.endswith(reason)


async def test_connection_error_fails_the_key(fhir: respx.MockRouter, client: FhirClient) -> None:
    fhir.get("/Patient/pat-123").mock(side_effect=httpx.ConnectError("refused"))
    result = await resolve(client, {"observations": None})
    assert result.keys["patient"].reason == (
        "not fetched: FHIR server fhir.example.org: connection failed (ConnectError)"
    )
    assert result.calls[0].outcome == "unavailable" and result.calls[0].status_code is None


async def test_reasons_carry_no_phi_or_token(fhir: respx.MockRouter, client: FhirClient) -> None:
    fhir.get("/Patient/pat-123").respond(404)
    fhir.get("/Observation").mock(side_effect=httpx.ReadTimeout("read timed out"))
    result = await resolve(client)
    for data in result.keys.values():
        assert data.reason and PATIENT_ID not in data.reason and TOKEN not in data.reason
        assert "?" not in data.reason


async def test_per_call_timeout_fails_the_key(fhir: respx.MockRouter, client: FhirClient) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.0)
        return httpx.Response(200, json=patient())

    fhir.get("/Patient/pat-123").mock(side_effect=slow)
    result = await resolve(client, {"observations": None}, per_call_timeout=0.05)
    assert result.keys["patient"].reason == "not fetched: FHIR server fhir.example.org: timed out"


async def test_slow_server_hits_the_overall_deadline(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    """A key still running at the deadline fails; keys that finished keep their data."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5.0)
        return httpx.Response(200, json=searchset())

    fhir.get("/Patient/pat-123").respond(json=patient())
    fhir.get("/Observation").mock(side_effect=slow)
    started = time.perf_counter()
    result = await resolve(client, deadline=0.2, per_call_timeout=5.0)
    assert time.perf_counter() - started < 1.0
    assert result.keys["patient"].status == "fetched"
    assert result.keys["observations"].status == "failed"
    assert result.keys["observations"].reason == (
        "not fetched: the overall FHIR deadline was exceeded"
    )
    call = next(c for c in result.calls if c.key == "observations")
    assert call.outcome == "deadline" and call.status_code is None


# --- paging -----------------------------------------------------------------------------------


async def test_next_pages_are_followed(fhir: respx.MockRouter, client: FhirClient) -> None:
    route = paged(fhir, 3)
    result = await resolve(client, {"patient": patient()})
    data = result.keys["observations"]
    assert data.status == "fetched" and data.reason is None
    assert ids(data.resources) == ["p1a", "p1b", "p2a", "p2b", "p3a", "p3b"]
    assert route.call_count == 3
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in route.calls)


async def test_max_pages_is_respected(fhir: respx.MockRouter, client: FhirClient) -> None:
    route = paged(fhir, 10)
    result = await resolve(client, {"patient": patient()}, max_pages=2)
    data = result.keys["observations"]
    assert route.call_count == 3  # the first page and 2 `next` pages
    assert data.status == "fetched" and len(data.resources) == 6
    assert data.reason == "stopped after 2 next pages"


async def test_max_entries_stops_paging(fhir: respx.MockRouter, client: FhirClient) -> None:
    route = paged(fhir, 10)
    result = await resolve(client, {"patient": patient()}, max_entries_per_key=3)
    data = result.keys["observations"]
    assert route.call_count == 2
    assert ids(data.resources) == ["p1a", "p1b", "p2a"]
    assert data.reason == "truncated to 3 entries"


@pytest.mark.parametrize(
    "next_url",
    [
        page_url(2, host="other.example.org"),
        "http://fhir.example.org/r4/Observation?_page=2",
        "https://fhir.example.org/admin/Observation?_page=2",
        "https://fhir.example.org@evil.com/r4/Observation?_page=2",
        "http://[::1",  # does not even parse
        "https://fhir.example.org/r4/../admin?_page=2",
    ],
)
async def test_next_link_off_base_is_refused(
    next_url: str, fhir: respx.MockRouter, client: FhirClient
) -> None:
    route = paged(fhir, 1, last_next=next_url)
    result = await resolve(client, {"patient": patient()})
    data = result.keys["observations"]
    assert route.call_count == 1
    assert data.status == "fetched" and len(data.resources) == 2
    assert data.reason is not None and data.reason.startswith("incomplete: ")


async def test_relative_next_link_is_joined_to_the_base(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    route = paged(fhir, 1, last_next=f"Observation?patient={PATIENT_ID}&_page=2")
    await resolve(client, {"patient": patient()}, max_pages=1)
    assert route.call_count == 2
    assert str(route.calls.last.request.url) == page_url(2)


async def test_failed_next_page_keeps_earlier_pages(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("_page") == "2":
            return httpx.Response(500)
        return httpx.Response(200, json=searchset(observation("o1"), next_url=page_url(2)))

    fhir.get("/Observation").mock(side_effect=handler)
    result = await resolve(client, {"patient": patient()})
    data = result.keys["observations"]
    assert data.status == "fetched" and ids(data.resources) == ["o1"]
    assert data.reason == "incomplete: FHIR server fhir.example.org: HTTP 500"


async def test_supplied_bundle_next_pages_are_fetched(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    route = paged(fhir, 3)
    first = searchset(observation("s1"), next_url=page_url(2))
    result = await resolve(client, {"patient": patient(), "observations": first})
    data = result.keys["observations"]
    assert data.status == "supplied" and data.reason is None
    assert ids(data.resources) == ["s1", "p2a", "p2b", "p3a", "p3b"]
    assert route.call_count == 2


async def test_supplied_bundle_next_pages_count_against_max_pages(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    route = paged(fhir, 10)
    first = searchset(observation("s1"), next_url=page_url(2))
    result = await resolve(client, {"patient": patient(), "observations": first}, max_pages=1)
    assert route.call_count == 1
    assert result.keys["observations"].reason == "stopped after 1 next pages"


async def test_supplied_bundle_next_page_without_access_keeps_first_page(
    client: FhirClient,
) -> None:
    first = searchset(observation("s1"), next_url=page_url(2))
    request = make_request(
        {"patient": patient(), "observations": first}, fhir_server=None, token=None
    )
    result = await resolve_prefetch(
        TEMPLATES, request, make_context(), client, make_policy(), make_limits()
    )
    data = result.keys["observations"]
    assert data.status == "supplied" and ids(data.resources) == ["s1"]
    assert data.reason == "incomplete: the request has no fhirServer"


async def test_fetched_non_searchset_bundle_yields_entries(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": observation("c1")}],
    }
    fhir.get("/Observation").respond(json=bundle)
    result = await resolve(client, {"patient": patient()})
    assert ids(result.keys["observations"].resources) == ["c1"]


async def test_supplied_bundle_with_unparsable_next_link(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    first = searchset(observation("s1"), next_url="https://[bad")
    result = await resolve(client, {"patient": patient(), "observations": first})
    data = result.keys["observations"]
    assert data.status == "supplied" and ids(data.resources) == ["s1"]
    assert data.reason == "incomplete: a next link could not be parsed"
