"""Malformed and hostile FHIR content inside a valid hook request: never a 500."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import hook_request, medication_request, observation, service_url

ZW = "\u200b\u200c\u200d\ufeff"

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
# Keys the readers look at, so the garbage lands where parsing happens.
fhir_keys = st.sampled_from(
    [
        "resourceType",
        "id",
        "status",
        "code",
        "coding",
        "system",
        "valueQuantity",
        "value",
        "unit",
        "component",
        "effectiveDateTime",
        "issued",
        "birthDate",
        "gender",
        "medicationCodeableConcept",
        "medicationReference",
        "reference",
        "dosageInstruction",
        "doseAndRate",
        "doseQuantity",
        "timing",
        "repeat",
        "reasonCode",
        "clinicalStatus",
        "verificationStatus",
        "entry",
        "resource",
        "link",
        "contained",
        "interpretation",
        "referenceRange",
        "comparator",
        "text",
        "display",
    ]
)
fhir_like = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(fhir_keys, inner, max_size=6)
    ),
    max_leaves=30,
)


def _post(client: TestClient, hook: str, body: dict[str, Any]) -> int:
    response = client.post(service_url(hook), json=body)
    assert response.status_code in (200, 400, 412), response.text[:500]
    return response.status_code


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.sampled_from(["patient", "observations", "medications", "conditions"]), value=fhir_like
)
def test_garbage_in_any_prefetch_key_is_handled(client: TestClient, key: str, value: Any) -> None:
    body = hook_request(
        "order-sign", drafts=[medication_request("197391", "baclofen 10 MG Oral Tablet")]
    )
    body["prefetch"][key] = value
    _post(client, "order-sign", body)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(resource=st.dictionaries(fhir_keys, fhir_like, max_size=8))
def test_garbage_resources_inside_bundles_and_drafts(
    client: TestClient, resource: dict[str, Any]
) -> None:
    for resource_type in ("Observation", "MedicationRequest", "Condition"):
        broken = {**resource, "resourceType": resource_type}
        body = hook_request("order-select", drafts=[{**broken, "id": "x"}])
        body["prefetch"]["observations"]["entry"].append({"resource": broken})
        body["prefetch"]["medications"]["entry"].append({"resource": broken})
        body["prefetch"]["conditions"]["entry"].append({"resource": broken})
        _post(client, "order-select", body)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["prefetch"]["observations"]["entry"].append(
            {"resource": {"resourceType": "Observation", "valueQuantity": {"value": "9" * 5000}}}
        ),
        lambda b: b["prefetch"]["observations"]["entry"][0]["resource"]["valueQuantity"].update(
            value=float("1e308")
        ),
        lambda b: b["prefetch"]["observations"]["entry"][0]["resource"]["valueQuantity"].update(
            unit=ZW + "mmol/L" + ZW, code=ZW
        ),
        lambda b: b["prefetch"].update(patient={"resourceType": "Observation", "id": "wrong"}),
        lambda b: b["prefetch"].update(observations={"resourceType": "Patient", "id": "wrong"}),
        lambda b: b["prefetch"]["patient"].update(birthDate="x" * 100_000),
        lambda b: b["prefetch"]["patient"].update(birthDate="3000-01-01"),
        lambda b: b["prefetch"]["patient"].update(gender=["female"]),
        lambda b: b["context"]["draftOrders"]["entry"].append("not an entry"),
        lambda b: b["context"]["draftOrders"]["entry"].append({"resource": None}),
        lambda b: b["context"]["draftOrders"].update(entry={"resource": {}}),
        lambda b: b["context"]["draftOrders"]["entry"][0]["resource"].update(
            medicationCodeableConcept={"text": ZW * 1000 + "quin" + ZW + "ine"}
        ),
        lambda b: b["context"]["draftOrders"]["entry"][0]["resource"].update(
            dosageInstruction=[
                {
                    "doseAndRate": {"doseQuantity": {"value": -5, "unit": "mg"}},
                    "timing": {"repeat": {"frequency": 10**9, "period": 0}},
                }
            ]
        ),
        lambda b: b["context"]["draftOrders"]["entry"][0]["resource"].update(
            medicationReference={"reference": "#" + "x" * 10_000}
        ),
        lambda b: b["context"].update(selections=["MedicationRequest/" + "y" * 200] * 50),
        # Found by fuzzing: an unhashable resourceType reached `in frozenset` (TypeError, 500).
        lambda b: b["context"]["draftOrders"]["entry"][0]["resource"].update(
            resourceType=["MedicationRequest"]
        ),
        lambda b: b["prefetch"]["medications"]["entry"].append(
            {"resource": {"resourceType": {"x": 1}, "medicationReference": {"reference": "M/1"}}}
        ),
    ],
)
def test_hand_picked_hostile_content(client: TestClient, mutate: Any) -> None:
    body = hook_request(
        "order-select",
        observations=[observation("2823-3", 3.1, "mmol/L")],
        drafts=[medication_request("997010", "quinine sulfate 324 MG Oral Capsule", mid="q1")],
    )
    mutate(body)
    _post(client, "order-select", copy.deepcopy(body))


def test_huge_strings_are_bounded_by_the_body_limit(client_factory, settings_factory) -> None:  # type: ignore[no-untyped-def]
    client = client_factory(settings_factory(max_body_bytes=100_000))
    body = hook_request()
    body["prefetch"]["patient"]["name"] = [{"text": "A" * 200_000}]
    assert client.post(service_url("order-sign"), json=body).status_code == 413


@pytest.mark.parametrize("digits", [25, 400])
@pytest.mark.parametrize("where", ["observation", "draft dose"])
def test_integers_wider_than_64_bits_never_500(client: TestClient, digits: int, where: str) -> None:
    # Beyond 64 bits JSON integers read as floats; beyond the float range the body is refused.
    marker = 987_654_321
    if where == "observation":
        body = hook_request("order-sign", observations=[observation("2823-3", marker, "mmol/L")])
    else:
        draft = medication_request("197391", "baclofen 10 MG Oral Tablet", dose_mg=marker)
        body = hook_request("order-sign", drafts=[draft])
    raw = orjson.dumps(body).replace(str(marker).encode(), b"9" * digits)
    response = client.post(
        service_url("order-sign"), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == (200 if digits < 300 else 400), response.text[:300]
