"""CDS Hooks 2.0 protocol behaviour of the HTTP API: discovery, status codes, bodies."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.builders import hook_request, observation, service_url

SERVICES = {
    "muscle-cramps-patient-view": "patient-view",
    "muscle-cramps-order-select": "order-select",
    "muscle-cramps-order-sign": "order-sign",
}
# CDS Hooks 2.0 §Prefetch query restrictions: reference, token (equality) and date params,
# plus _count and _sort. Ours use these parameters only.
ALLOWED_PARAMS = {"patient", "code", "status", "clinical-status", "_sort", "_count"}


def test_discovery_lists_the_three_services(client: TestClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = response.json()["services"]
    assert {s["id"]: s["hook"] for s in services} == SERVICES
    for service in services:
        assert service["title"] and service["description"] and service["usageRequirements"]
        assert set(service["prefetch"]) == {"patient", "observations", "medications", "conditions"}


def test_prefetch_templates_keep_to_the_query_restrictions(client: TestClient) -> None:
    for service in client.get("/cds-services").json()["services"]:
        for template in service["prefetch"].values():
            assert "{{context.patientId}}" in template
            path, _, query = template.partition("?")
            assert path.count("/") <= 1 and ":" not in path
            for name, _value in parse_qsl(query, keep_blank_values=True):
                assert name in ALLOWED_PARAMS, name
                assert ":" not in name, "no modifiers"
            assert "sort:desc" not in template


def test_observation_template_asks_for_the_analytes_the_rules_read(client: TestClient) -> None:
    template = client.get("/cds-services").json()["services"][0]["prefetch"]["observations"]
    codes = dict(parse_qsl(urlsplit(template).query))["code"].split(",")
    for loinc in (
        "2823-3",
        "19123-9",
        "2601-3",
        "98979-8",
        "33914-3",
        "2160-0",
        "17861-6",
        "2157-6",
        "3016-3",
    ):
        assert f"http://loinc.org|{loinc}" in codes


def test_unknown_service_is_404_with_operation_outcome(client: TestClient) -> None:
    response = client.post("/cds-services/Jane-Doe-1961", json=hook_request())
    assert response.status_code == 404
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "unknown-service"
    assert "Jane" not in response.text  # the caller's id is not echoed


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hookInstance": "x", "context": {}}, "hook"),
        ({"hook": "order-sign", "context": {}}, "hookInstance"),
        ({"hook": "order-sign", "hookInstance": "x"}, "context"),
        ({"hook": "order-sign", "hookInstance": "x", "context": []}, "context"),
        ({"hook": 7, "hookInstance": "x", "context": {}}, "hook"),
        ({"hook": "order-sign", "hookInstance": "x", "context": {}, "prefetch": []}, "prefetch"),
    ],
)
def test_missing_or_mistyped_required_fields_are_400(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    response = client.post(service_url("order-sign"), json=body)
    assert response.status_code == 400
    assert field in response.json()["issue"][0]["expression"]


def test_hook_mismatch_is_400(client: TestClient) -> None:
    body = hook_request("order-sign")
    response = client.post(service_url("patient-view"), json=body)
    assert response.status_code == 400
    text = response.json()["issue"][0]["details"]["text"]
    assert text == "Service 'muscle-cramps-patient-view' answers the 'patient-view' hook, not 'order-sign'."


def test_an_unknown_hook_is_not_echoed(client: TestClient) -> None:
    body = {**hook_request("order-sign"), "hook": "Patient Jane Doe 1961-02-03"}
    response = client.post(service_url("order-sign"), json=body)
    assert response.status_code == 400
    text = response.json()["issue"][0]["details"]["text"]
    assert "Jane" not in text and text.endswith("hook, not the one sent.")


@pytest.mark.parametrize(
    ("hook", "drop"),
    [
        ("patient-view", "patientId"),
        ("order-sign", "draftOrders"),
        ("order-select", "selections"),
        ("order-sign", "userId"),
    ],
)
def test_missing_required_context_fields_are_400(client: TestClient, hook: str, drop: str) -> None:
    body = hook_request(hook)
    del body["context"][drop]
    response = client.post(service_url(hook), json=body)
    assert response.status_code == 400
    assert f"context.{drop}" in response.json()["issue"][0]["expression"]


def test_fhir_authorization_without_fhir_server_is_400(client: TestClient) -> None:
    body = hook_request()
    body["fhirAuthorization"] = {
        "access_token": "secret",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "cds",
    }
    response = client.post(service_url("order-sign"), json=body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["fhirServer"]
    assert "secret" not in response.text


@pytest.mark.parametrize("token", ["\u200bsecret", "sec ret", "s\u00e9cret", "secret\n"])
def test_an_access_token_that_cannot_go_in_a_header_is_400(client: TestClient, token: str) -> None:
    """Found by fuzzing: a non-ASCII token failed inside httpx on the fallback path (500)."""
    body = hook_request()
    del body["prefetch"]
    body["fhirServer"] = "https://fhir.example.org/r4"
    body["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "subject": "cds"}
    response = client.post(service_url("order-sign"), json=body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["fhirAuthorization.access_token"]
    assert "secret" not in response.text and "cret" not in response.text


@pytest.mark.parametrize("raw", [b"{", b"not json", b"", b"[1,2]", b'"text"', b"\xff\xfe"])
def test_malformed_json_is_400(client: TestClient, raw: bytes) -> None:
    response = client.post(
        service_url("order-sign"), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def test_non_json_body_is_415(client: TestClient) -> None:
    response = client.post(
        service_url("order-sign"),
        content=b"hook=order-sign",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415


def test_json_with_charset_is_accepted(client: TestClient) -> None:
    response = client.post(
        service_url("order-sign"),
        content=json.dumps(hook_request()),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_body_over_the_limit_is_413(client_factory, settings_factory) -> None:  # type: ignore[no-untyped-def]
    client = client_factory(settings_factory(max_body_bytes=2_000))
    body = hook_request()
    body["padding"] = "x" * 5_000
    assert client.post(service_url("order-sign"), json=body).status_code == 413

    def chunks():  # type: ignore[no-untyped-def]
        yield json.dumps(body).encode()  # streamed: no Content-Length to trust

    response = client.post(
        service_url("order-sign"), content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_deep_content_the_service_does_not_read_is_skipped(client: TestClient) -> None:
    """The decoder skips unknown fields without building them, however deep (issue 11)."""
    body = hook_request()
    deep: object = "x"
    for _ in range(200):
        deep = [deep]
    body["context"]["deep"] = deep
    body["prefetch"]["patient"]["extension"] = deep
    response = client.post(service_url("order-sign"), json=body)
    assert response.status_code == 200


def test_deep_nesting_in_read_content_is_400(client: TestClient) -> None:
    body = hook_request()
    body["prefetch"]["medications"]["entry"].append({"resource": "DEEP"})
    nested = '{"resourceType": "Medication", "contained": [' * 1_200 + "{}" + "]}" * 1_200
    raw = json.dumps(body).replace('"DEEP"', nested).encode()  # built as text: json won't nest
    response = client.post(
        service_url("order-sign"), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "too-deep"


def test_nesting_past_orjsons_own_limit_is_too_deep_not_invalid(client: TestClient) -> None:
    raw = b'{"hook": "order-sign", "deep": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    response = client.post(
        service_url("order-sign"), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "too-deep"


@pytest.mark.parametrize("number", [b"9" * 400, b"1e400", b"-1e999"])
def test_a_number_beyond_a_double_is_named_as_such(client: TestClient, number: bytes) -> None:
    body = hook_request("order-sign", observations=[observation("2823-3", 3.5, "mmol/L")])
    raw = json.dumps(body).replace("3.5", "NUMBER").encode().replace(b"NUMBER", number)
    response = client.post(
        service_url("order-sign"), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert "number too large" in issue["details"]["text"]
    where = "prefetch.observations.entry[0].resource.valueQuantity.value"
    assert issue["expression"] == [where]
    # Where the service reads nothing, the decoder skips the number unread.
    unread = json.dumps({**body, "n": "NUMBER"}).encode().replace(b'"NUMBER"', number)
    assert client.post(
        service_url("order-sign"), content=unread, headers={"content-type": "application/json"}
    ).status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", 7), ("valueQuantity", {"value": True}), ("code", "2823-3")],
)
def test_a_read_field_of_the_wrong_type_is_400_naming_its_path(
    client: TestClient, field: str, value: object
) -> None:
    """Decoded at the edge: the readers never see a status that is not text (issue 11)."""
    body = hook_request("order-sign", observations=[observation("2823-3", 3.5, "mmol/L")])
    body["prefetch"]["observations"]["entry"][0]["resource"][field] = value
    response = client.post(service_url("order-sign"), json=body)
    assert response.status_code == 400
    (where,) = response.json()["issue"][0]["expression"]
    assert where.startswith(f"prefetch.observations.entry[0].resource.{field}")


@pytest.mark.parametrize("value", ["123", [{"resourceType": "Patient"}], 7, True])
def test_a_prefetch_value_that_is_not_an_object_is_400(client: TestClient, value: object) -> None:
    body = hook_request("order-sign")
    body["prefetch"]["patient"] = value
    response = client.post(service_url("order-sign"), json=body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["prefetch.patient"]


def test_unknown_fields_and_extensions_are_ignored(client: TestClient) -> None:
    body = hook_request()
    body["extension"] = {"com.example.timestamp": "2017-11-27T22:13:25Z"}
    body["somethingNew"] = {"a": 1}
    body["context"]["futureField"] = True
    response = client.post(service_url("order-sign"), json=body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_empty_advice_is_an_empty_cards_array(client: TestClient) -> None:
    response = client.post(service_url("patient-view"), json=hook_request("patient-view"))
    assert response.status_code == 200
    assert response.json() == {"cards": []}
    assert response.headers["content-type"] == "application/json"


def test_patient_id_with_type_prefix_is_tolerated(client: TestClient) -> None:
    body = hook_request("patient-view")
    body["context"]["patientId"] = "Patient/pat-1"
    assert client.post(service_url("patient-view"), json=body).status_code == 200


def test_missing_prefetch_without_fhir_server_is_412(client: TestClient) -> None:
    response = client.post(service_url("order-sign"), json=hook_request(prefetch=False))
    assert response.status_code == 412
    issue = response.json()["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "data-unavailable"
    assert "prefetch.patient" in issue["expression"]


def test_null_prefetch_for_every_key_means_no_data_not_412(client: TestClient) -> None:
    body = hook_request()
    body["prefetch"] = {
        "patient": None,
        "observations": None,
        "medications": None,
        "conditions": None,
    }
    response = client.post(service_url("order-sign"), json=body)
    assert response.status_code == 200


def test_security_headers_on_every_response(client: TestClient) -> None:
    for response in (client.get("/cds-services"), client.post("/cds-services/nope", json={})):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


def test_health_endpoints(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


@pytest.mark.parametrize(
    ("profile", "api_docs", "served"),
    [
        ("development", None, True),
        ("sandbox", None, True),
        ("production", None, False),
        ("production", True, True),
        ("development", False, False),
    ],
)
def test_api_docs_follow_the_profile_unless_set(
    client_factory, settings_factory, profile: str, api_docs: bool | None, served: bool
) -> None:  # type: ignore[no-untyped-def]
    client = client_factory(settings_factory(profile=profile, api_docs=api_docs))
    for path in ("/openapi.json", "/docs", "/redoc"):
        response = client.get(path)
        assert (response.status_code == 200) is served, (path, response.status_code)
        if not served:
            assert response.status_code == 404
            assert response.json()["resourceType"] == "OperationOutcome"
            assert response.headers["content-security-policy"].startswith("default-src 'none'")
