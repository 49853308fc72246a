"""Resolving MedicationRequest.medicationReference to Medication resources."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import respx

from cds_service.fhir.client import FhirClient
from cds_service.fhir.medications import (
    medication_index,
    parse_reference,
    resolve_medication_references,
)
from tests.fhir.helpers import BASE, TOKEN, make_limits, make_policy, make_request


def order(reference: str | None, rtype: str = "MedicationRequest") -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": rtype, "id": "mr", "status": "active"}
    if reference is not None:
        body["medicationReference"] = {"reference": reference, "display": "Baclofen 10 mg"}
    return body


def medication(mid: str, code: str = "197391") -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": mid,
        "code": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code}]
        },
    }


async def resolve(
    client: FhirClient,
    orders: list[dict[str, Any]],
    known: list[dict[str, Any]] = (),  # type: ignore[assignment]
    request_kwargs: dict[str, Any] | None = None,
    **limits: Any,
) -> dict[str, dict[str, Any]]:
    return await resolve_medication_references(
        orders,
        known=known,
        client=client,
        request=make_request(None, **(request_kwargs or {})),
        policy=make_policy(),
        limits=make_limits(**limits),
    )


async def test_known_medication_needs_no_query(fhir: respx.MockRouter, client: FhirClient) -> None:
    any_route = fhir.route().respond(json=medication("x"))
    known = [{"resourceType": "Patient", "id": "m1"}, medication("m1")]
    found = await resolve(client, [order("Medication/m1")], known)
    assert found == {"Medication/m1": medication("m1")}
    assert not any_route.called


async def test_missing_medication_is_fetched(fhir: respx.MockRouter, client: FhirClient) -> None:
    route = fhir.get("/Medication/m2").respond(json=medication("m2"))
    found = await resolve(client, [order("Medication/m2")])
    assert found == {"Medication/m2": medication("m2")}
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_versioned_reference_fetches_that_version(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    route = fhir.get("/Medication/m2/_history/3").respond(json=medication("m2"))
    found = await resolve(client, [order("Medication/m2/_history/3")])
    assert list(found) == ["Medication/m2"] and route.called


async def test_absolute_reference_on_base(fhir: respx.MockRouter, client: FhirClient) -> None:
    route = fhir.get("/Medication/m3").respond(json=medication("m3"))
    found = await resolve(client, [order(f"{BASE}/Medication/m3")])
    assert list(found) == ["Medication/m3"] and route.called


async def test_absolute_reference_on_base_matches_known(client: FhirClient) -> None:
    found = await resolve(client, [order(f"{BASE}/Medication/m1")], [medication("m1")])
    assert found == {"Medication/m1": medication("m1")}


@pytest.mark.parametrize(
    "reference",
    [
        "https://other.example.org/r4/Medication/m1",
        "https://fhir.example.org/elsewhere/Medication/m1",
        "http://fhir.example.org/r4/Medication/m1",
        "https://fhir.example.org@evil.com/r4/Medication/m1",
    ],
)
async def test_off_base_reference_is_not_fetched_nor_matched(
    reference: str, fhir: respx.MockRouter, client: FhirClient
) -> None:
    """A Medication/m1 on another server is not our Medication/m1."""
    any_route = fhir.route().respond(json=medication("m1"))
    found = await resolve(client, [order(reference)], [medication("m1")])
    assert found == {} and not any_route.called


@pytest.mark.parametrize(
    "reference",
    [
        "#med1",
        "Substance/s1",
        "Medication/",
        "Medication/../Patient/1",
        "Medication/a/b",
        "urn:uuid:1234",
    ],
)
async def test_contained_and_other_references_are_skipped(
    reference: str, fhir: respx.MockRouter, client: FhirClient
) -> None:
    any_route = fhir.route().respond(json=medication("x"))
    assert await resolve(client, [order(reference)]) == {}
    assert not any_route.called


async def test_unresolvable_reference_is_absent(fhir: respx.MockRouter, client: FhirClient) -> None:
    fhir.get("/Medication/gone").respond(404)
    fhir.get("/Medication/weird").respond(json={"resourceType": "Patient", "id": "weird"})
    fhir.get("/Medication/ok").respond(json=medication("ok"))
    orders = [order("Medication/gone"), order("Medication/weird"), order("Medication/ok")]
    assert list(await resolve(client, orders)) == ["Medication/ok"]


async def test_only_medication_orders_are_read(fhir: respx.MockRouter, client: FhirClient) -> None:
    fhir.get("/Medication/m5").respond(json=medication("m5"))
    orders = [
        order("Medication/m5", "MedicationStatement"),
        order(None),
        {"resourceType": 1},
        order("Medication/m5", "MedicationOrder"),
    ]
    assert list(await resolve(client, orders)) == ["Medication/m5"]


async def test_fetches_run_concurrently_and_once_per_medication(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.2)
        return httpx.Response(200, json=medication(request.url.path.rsplit("/", 1)[-1]))

    route = fhir.get().mock(side_effect=slow)
    orders = [order(f"Medication/m{i}") for i in range(4)] + [order("Medication/m0")]
    started = time.perf_counter()
    found = await resolve(client, orders)
    assert time.perf_counter() - started < 0.6
    assert len(found) == 4 and route.call_count == 4


async def test_deadline_keeps_what_arrived(fhir: respx.MockRouter, client: FhirClient) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5.0)
        return httpx.Response(200, json=medication("slow"))

    fhir.get("/Medication/fast").respond(json=medication("fast"))
    fhir.get("/Medication/slow").mock(side_effect=slow)
    orders = [order("Medication/fast"), order("Medication/slow")]
    found = await resolve(client, orders, deadline=0.2, per_call_timeout=5.0)
    assert list(found) == ["Medication/fast"]


async def test_no_fhir_access_returns_only_known(
    fhir: respx.MockRouter, client: FhirClient
) -> None:
    orders = [order("Medication/m1"), order("Medication/m2")]
    found = await resolve(
        client, orders, [medication("m1")], request_kwargs={"fhir_server": None, "token": None}
    )
    assert list(found) == ["Medication/m1"]
    found = await resolve(client, orders, [medication("m1")], request_kwargs={"token": None})
    assert list(found) == ["Medication/m1"]


def test_parse_reference_normalises_keys() -> None:
    policy = make_policy()
    cases = {
        "Medication/m1": ("Medication/m1", "Medication/m1"),
        " Medication/m1 ": ("Medication/m1", "Medication/m1"),
        "Medication/m1/_history/2": ("Medication/m1", "Medication/m1/_history/2"),
        f"{BASE}/Medication/m1": ("Medication/m1", "Medication/m1"),
        f"{BASE}/Medication/m1/_history/2": ("Medication/m1", "Medication/m1/_history/2"),
        "HTTPS://FHIR.EXAMPLE.ORG:443/r4/Medication/m1": ("Medication/m1", "Medication/m1"),
    }
    for reference, (key, path) in cases.items():
        ref = parse_reference(reference, BASE, policy)
        assert ref is not None and (ref.key, ref.path) == (key, path), reference
    assert parse_reference(f"{BASE}/Medication/m1", None, policy) is None


def test_medication_index_first_wins_and_skips_junk() -> None:
    first, second = medication("m1", "1"), medication("m1", "2")
    junk: list[Any] = [
        {"resourceType": "Medication"},
        {"resourceType": "Medication", "id": "a/"},
        1,
    ]
    index = medication_index([first, second, *junk])
    assert index == {"Medication/m1": first}
