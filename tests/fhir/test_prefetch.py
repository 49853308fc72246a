"""Prefetch resolution against a respx-mocked EHR FHIR server.

The spec text each behaviour follows is quoted above the tests (HL7/cds-hooks
input/pagecontent/index.md, §Prefetch Template; same sentences in 2.0.1 and the current build):

> If the CDS Client encounters errors prefetching the requested data, OperationOutcome(s) SHOULD
> be used to communicate those errors to prevent the CDS Service from incurring an unneeded
> follow-up query. CDS Clients MUST omit the prefetch key if relevant details cannot be provided
> (e.g. intermittent connectivity issues). CDS Services SHOULD check any prefetched data for the
> existence of OperationOutcomes. If the CDS Client has no data to populate a template prefetch
> key, the prefetch template key MUST have a value of null.
>
> It is the CDS Service's responsibility to check prefetched data against its template to
> determine what requests were satisfied (if any) and to programmatically retrieve any
> additional necessary data. If the CDS Service is unable to obtain required data because it
> cannot access the FHIR server and the request did not contain the necessary prefetch keys,
> the service SHALL respond with an HTTP 412 Precondition Failed status code.
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
    BASE,
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
    "observations": "Observation?patient={{context.patientId}}&code=http://loinc.org|2601-3",
    "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
}

FULL_PREFETCH: dict[str, Any] = {
    "patient": patient(),
    "observations": searchset(observation("o1")),
    "medications": searchset(),
    "conditions": searchset(),
}


def mock_all(fhir: respx.MockRouter) -> dict[str, respx.Route]:
    return {
        "patient": fhir.get("/Patient/pat-123").respond(json=patient()),
        "observations": fhir.get("/Observation").respond(json=searchset(observation("o1"))),
        "medications": fhir.get("/MedicationRequest").respond(json=searchset()),
        "conditions": fhir.get("/Condition").respond(json=searchset()),
    }


async def resolve(
    client: FhirClient,
    prefetch: dict[str, Any] | None = None,
    *,
    templates: dict[str, str] | None = None,
    request_kwargs: dict[str, Any] | None = None,
    **policy_or_limits: Any,
) -> PrefetchResult:
    limit_names = {"per_call_timeout", "deadline", "max_pages", "max_entries_per_key"}
    limits = make_limits(**{k: v for k, v in policy_or_limits.items() if k in limit_names})
    policy = make_policy(**{k: v for k, v in policy_or_limits.items() if k not in limit_names})
    request = make_request(prefetch, **(request_kwargs or {}))
    return await resolve_prefetch(
        templates or TEMPLATES, request, make_context(), client, policy, limits
    )


# --- key absent: "the CDS Service's responsibility ... to programmatically retrieve" ----------


async def test_missing_prefetch_fetches_all_keys_concurrently(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    in_flight = 0
    peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.2)
        in_flight -= 1
        body = patient() if "Patient" in request.url.path else searchset()
        return httpx.Response(200, json=body)

    route = fhir.get().mock(side_effect=slow)
    started = time.perf_counter()
    result = await resolve(client, None)
    elapsed = time.perf_counter() - started
    assert {k: v.status for k, v in result.keys.items()} == dict.fromkeys(TEMPLATES, "fetched")
    assert route.call_count == 4 and peak == 4
    assert elapsed < 0.6, "4 x 0.2 s fetched one after another would take 0.8 s"
    for call in route.calls:
        assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert ids(result.keys["patient"].resources) == [PATIENT_ID]
    assert {c.key for c in result.calls} == set(TEMPLATES)
    assert all(c.status_code == 200 and c.outcome == "ok" for c in result.calls)


async def test_fetch_urls_are_base_plus_expanded_template(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    routes = mock_all(fhir)
    await resolve(client, {})
    url = routes["observations"].calls.last.request.url
    assert url.params["patient"] == "pat-123" and url.params["code"] == "http://loinc.org|2601-3"
    assert routes["patient"].calls.last.request.url == f"{BASE}/Patient/pat-123"


async def test_only_missing_keys_are_fetched(fhir: respx.MockRouter, client: FhirClient) -> None:
    routes = mock_all(fhir)
    prefetch = {k: v for k, v in FULL_PREFETCH.items() if k != "conditions"}
    result = await resolve(client, prefetch)
    assert result.keys["conditions"].status == "fetched"
    assert [k for k, r in routes.items() if r.called] == ["conditions"]
    assert result.keys["patient"].status == "supplied"


async def test_full_prefetch_makes_no_query(fhir: respx.MockRouter, client: FhirClient) -> None:
    routes = mock_all(fhir)
    result = await resolve(client, FULL_PREFETCH)
    assert all(v.status == "supplied" for v in result.keys.values())
    assert not any(r.called for r in routes.values()) and result.calls == []
    assert ids(result.keys["observations"].resources) == ["o1"]


async def test_keys_follow_template_order_and_extra_keys_are_ignored(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    prefetch = {"other": patient("x"), **FULL_PREFETCH}
    result = await resolve(client, prefetch)
    assert list(result.keys) == list(TEMPLATES)


# --- null: "the prefetch template key MUST have a value of null" -> known empty, no query ----


async def test_null_prefetch_makes_no_query(fhir: respx.MockRouter, client: FhirClient) -> None:
    routes = mock_all(fhir)
    prefetch = {k: None for k in TEMPLATES}
    result = await resolve(client, prefetch)
    assert all(v.status == "null" and v.resources == () for v in result.keys.values())
    assert not any(r.called for r in routes.values())


async def test_empty_searchset_is_supplied_and_empty(client: FhirClient) -> None:
    result = await resolve(client, {**FULL_PREFETCH, "medications": searchset()})
    assert result.keys["medications"].status == "supplied"
    assert result.keys["medications"].resources == ()


# --- OperationOutcome: "CDS Services SHOULD check any prefetched data for ... OperationOutcomes"


@pytest.mark.parametrize(
    "value",
    [outcome(), searchset(outcome()), searchset(outcome("fatal"), outcome("warning"))],
)
async def test_operation_outcome_prefetch_is_refetched(
    value: dict[str, Any], fhir: respx.MockRouter, client: FhirClient
) -> None:
    routes = mock_all(fhir)
    result = await resolve(client, {**FULL_PREFETCH, "observations": value})
    data = result.keys["observations"]
    assert data.status == "fetched" and routes["observations"].called
    assert data.reason == "prefetch value was an OperationOutcome"
    assert ids(data.resources) == ["o1"]


async def test_operation_outcome_without_fhir_access_is_failed(client: FhirClient) -> None:
    result = await resolve(
        client,
        {**FULL_PREFETCH, "patient": outcome()},
        request_kwargs={"fhir_server": None, "token": None},
    )
    data = result.keys["patient"]
    assert data.status == "failed"
    assert data.reason == (
        "prefetch value was an OperationOutcome; not fetched: the request has no fhirServer"
    )


async def test_bundle_with_outcome_and_resources_is_data(client: FhirClient) -> None:
    value = searchset(observation("o1"), outcome("warning"), observation("o2"))
    result = await resolve(client, {**FULL_PREFETCH, "observations": value})
    data = result.keys["observations"]
    assert data.status == "supplied"
    assert ids(data.resources) == ["o1", "o2"]


async def test_bundle_with_only_warning_outcomes_is_empty_data(client: FhirClient) -> None:
    result = await resolve(client, {**FULL_PREFETCH, "observations": searchset(outcome("warning"))})
    assert result.keys["observations"].status == "supplied"
    assert result.keys["observations"].resources == ()


# --- an object that is not a resource: treated as absent, and noted ----------------------
# (a string, number, boolean or array is refused by the decoder: tests/api/test_protocol.py)


async def test_an_object_without_resource_type_is_fetched(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    routes = mock_all(fhir)
    result = await resolve(client, {**FULL_PREFETCH, "patient": {"id": "x"}})
    data = result.keys["patient"]
    assert data.status == "fetched" and routes["patient"].called
    assert data.reason == "prefetch value was an object without resourceType, not a FHIR resource"


async def test_odd_bundles_are_read_robustly(client: FhirClient) -> None:
    lone = {"resourceType": "Bundle", "type": "searchset", "entry": {"resource": patient()}}
    odd = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"id": "no-type"}},
            {"fullUrl": "u"},
            {"resource": observation("o1")},
        ],
    }
    result = await resolve(client, {**FULL_PREFETCH, "conditions": lone, "observations": odd})
    # One object where the entry array belongs (a real client quirk) is read as one entry.
    assert result.keys["conditions"].status == "supplied"
    assert ids(result.keys["conditions"].resources) == [PATIENT_ID]
    assert ids(result.keys["observations"].resources) == ["o1"]


async def test_supplied_entries_capped(client: FhirClient) -> None:
    big = searchset(*(observation(f"o{i}") for i in range(5)))
    result = await resolve(client, {**FULL_PREFETCH, "observations": big}, max_entries_per_key=3)
    data = result.keys["observations"]
    assert data.status == "supplied" and len(data.resources) == 3
    assert data.reason == "truncated to 3 entries"


# --- when fetching is not possible: failed, with a reason and no query -----------------------


@pytest.mark.parametrize(
    ("request_kwargs", "policy", "reason"),
    [
        ({"fhir_server": None, "token": None}, {}, "not fetched: the request has no fhirServer"),
        ({"token": None}, {}, "not fetched: the request has no fhirAuthorization"),
        (
            {},
            {"allowed_hosts": ("other.example.org",)},
            "not fetched: fhirServer host fhir.example.org is not in CDS_FHIR_ALLOWED_HOSTS",
        ),
        (
            {"fhir_server": "https://rebind.example.org/fhir"},
            {"allowed_hosts": ("*",)},
            "not fetched: fhirServer rebind.example.org resolves to a non-public address",
        ),
        (
            {"fhir_server": "http://127.0.0.1:8080/fhir"},
            {"allowed_hosts": ("*",)},
            "not fetched: fhirServer is a loopback, private or reserved address",
        ),
    ],
)
async def test_no_fhir_access_fails_missing_keys(
    request_kwargs: dict[str, Any],
    policy: dict[str, Any],
    reason: str,
    fhir: respx.MockRouter,
    client: FhirClient,
) -> None:
    # Requests to any other host fail the test: the router mocks everything (assert_all_mocked).
    any_route = fhir.route().respond(json=patient())
    result = await resolve(client, {"patient": patient()}, request_kwargs=request_kwargs, **policy)
    assert result.keys["patient"].status == "supplied"
    for key in ("observations", "medications", "conditions"):
        assert result.keys[key].status == "failed"
        assert result.keys[key].reason == reason
    assert not any_route.called


async def test_unauthenticated_fetch_when_allowed_sends_no_token(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    routes = mock_all(fhir)
    result = await resolve(client, None, request_kwargs={"token": None}, allow_unauthenticated=True)
    assert all(v.status == "fetched" for v in result.keys.values())
    for route in routes.values():
        assert "Authorization" not in route.calls.last.request.headers


async def test_template_token_without_value_fails_without_query(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    any_route = fhir.route().respond(json=patient())
    result = await resolve(
        client, None, templates={"encounter": "Encounter/{{context.encounterId}}"}
    )
    data = result.keys["encounter"]
    assert data.status == "failed"
    assert data.reason == "the template has a token with no value in this call"
    assert not any_route.called
