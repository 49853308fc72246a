"""`cds-service request` and the request builder: a Synthea Bundle becomes what an EHR sends.

The prefetch must be what a conformant EHR returns for OUR templates: references resolved,
only the LOINC codes the Observation template lists, newest first, active orders only,
active/recurrence/relapse conditions only. Built requests must be answered 200 by the API.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from cds_service.cli import cli
from cds_service.settings import Settings
from cds_service.tools.bundles import load_json, patient_id_of, resources_from
from cds_service.tools.fhir_memory import MemoryFhir, MemoryFhirTransport, UnsupportedQuery
from cds_service.tools.request_builder import (
    DEFAULT_FHIR_SERVER,
    RequestOptions,
    build_request,
    registry,
)
from tests.conftest import CONFORMANCE, FIXTURES

ISAIAH = (
    CONFORMANCE / "fhir" / "synthea-r4__Isaiah_Schaden_b6b36717-6ad2-433d-bf5c-6c77bc2fcd96.json"
)
ISAIAH_ID = "0e61c3ad-d11e-4080-a6aa-cac89cae4e37"
SMART_STU3 = CONFORMANCE / "fhir" / "smart-sample-STU3__patient-1768562.fhir-bundle.json"
MGO = {
    "resourceType": "MedicationRequest",
    "status": "draft",
    "intent": "order",
    "medicationCodeableConcept": {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "198741",
                "display": "magnesium oxide 400 MG Oral Tablet",
            }
        ]
    },
}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def isaiah() -> list[dict[str, Any]]:
    return resources_from(load_json(ISAIAH))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["request", *args])


def entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", [])]


def test_urn_uuid_references_resolve_to_the_patient(isaiah: list[dict[str, Any]]) -> None:
    assert patient_id_of(isaiah) == ISAIAH_ID
    text = json.dumps(isaiah)
    assert '"reference": "urn:uuid:' not in text
    observations = [r for r in isaiah if r["resourceType"] == "Observation"]
    assert {o["subject"]["reference"] for o in observations} == {f"Patient/{ISAIAH_ID}"}


def test_full_prefetch_fills_our_own_templates(isaiah: list[dict[str, Any]]) -> None:
    body = build_request(isaiah, [MGO], ISAIAH_ID)
    service = registry().for_hook("order-select")
    prefetch = body["prefetch"]
    assert set(prefetch) == set(service.prefetch)
    assert (
        prefetch["patient"]["resourceType"] == "Patient" and prefetch["patient"]["id"] == ISAIAH_ID
    )

    template = service.prefetch["observations"]
    listed = {t.split("|")[1] for t in template.split("&code=")[1].split("&")[0].split(",")}
    observations = entries(prefetch["observations"])
    expected = [
        r for r in isaiah
        if r["resourceType"] == "Observation"
        and any(c["code"] in listed for c in r["code"]["coding"])
    ]  # fmt: skip
    assert prefetch["observations"]["type"] == "searchset"
    assert len(observations) == len(expected) == prefetch["observations"]["total"] > 0
    dates = [o["effectiveDateTime"] for o in observations]
    assert dates == sorted(dates, reverse=True)  # _sort=-date

    medications = entries(prefetch["medications"])
    assert medications and {m["status"] for m in medications} == {"active"}
    assert len(medications) < sum(r["resourceType"] == "MedicationRequest" for r in isaiah)
    conditions = entries(prefetch["conditions"])
    statuses = {c["clinicalStatus"]["coding"][0]["code"] for c in conditions}
    assert conditions and statuses <= {"active", "recurrence", "relapse"}
    assert len(conditions) < sum(r["resourceType"] == "Condition" for r in isaiah)


def test_context_drafts_and_hook_instance(isaiah: list[dict[str, Any]]) -> None:
    body = build_request(isaiah, [MGO], ISAIAH_ID, RequestOptions(encounter_id="enc-1"))
    context = body["context"]
    (draft,) = entries(context["draftOrders"])
    assert draft["subject"] == {"reference": f"Patient/{ISAIAH_ID}"} and draft["id"] == "draft-1"
    assert context["selections"] == ["MedicationRequest/draft-1"]
    assert context["encounterId"] == "enc-1" and context["userId"].startswith("Practitioner/")
    assert uuid.UUID(body["hookInstance"]).version == 4
    again = build_request(isaiah, [MGO], ISAIAH_ID)
    assert again["hookInstance"] != body["hookInstance"]
    assert "fhirServer" not in body and "draft" not in json.dumps(body["prefetch"])


def test_no_prefetch_and_null_prefetch_variants(isaiah: list[dict[str, Any]]) -> None:
    none = build_request(isaiah, [MGO], ISAIAH_ID, RequestOptions(prefetch="none"))
    assert "prefetch" not in none and none["fhirServer"] == DEFAULT_FHIR_SERVER
    null = build_request(
        isaiah, [], ISAIAH_ID, RequestOptions(hook="patient-view", prefetch="null")
    )
    assert null["prefetch"] == dict.fromkeys(registry().for_hook("patient-view").prefetch)
    assert "draftOrders" not in null["context"]


def test_stu3_bundle_and_paging() -> None:
    resources = resources_from(load_json(SMART_STU3))
    fhir = MemoryFhir(resources, base="https://ehr.example.org/fhir")
    page = fhir.run("Condition?patient=smart-1768562&clinical-status=active&_count=4")
    assert page is not None and page["total"] == 15 and len(page["entry"]) == 4  # STU3 string
    next_url = page["link"][0]["url"]
    assert (
        next_url.startswith("https://ehr.example.org/fhir/Condition?") and "_offset=4" in next_url
    )
    with pytest.raises(UnsupportedQuery):
        fhir.run("Observation?patient=smart-1768562&category=laboratory")


def test_cli_writes_a_request(tmp_path: Path) -> None:
    order = tmp_path / "mgo.json"
    order.write_text(json.dumps(MGO))
    out = tmp_path / "request.json"
    result = run(str(ISAIAH), "--order", str(order), "--hook", "order-sign", "-o", str(out))
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())
    assert body["hook"] == "order-sign" and "selections" not in body["context"]
    assert set(body["prefetch"]) == {"patient", "observations", "medications", "conditions"}

    result = run(str(ISAIAH), "--hook", "patient-view", "--no-prefetch", "--fhir-server",
                 "https://ehr.example.org/r4", "--fhir-token", "t0k")  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert "prefetch" not in body and body["fhirServer"] == "https://ehr.example.org/r4"
    assert body["fhirAuthorization"]["access_token"] == "t0k"

    assert run(str(ISAIAH), "--no-prefetch", "--null-prefetch").exit_code == 2
    assert run(str(ISAIAH), "--hook", "medication-prescribe").exit_code == 2
    result = run(
        str(ISAIAH),
        "--order",
        str(CONFORMANCE / "fhir" / "fhir-r4-examples-4.0.1__Observation-f205.json"),
    )
    assert result.exit_code == 2 and "no MedicationRequest" in result.output


def test_built_requests_are_answered_over_http(
    isaiah: list[dict[str, Any]],
    client_factory: Callable[..., TestClient],
    settings_factory: Callable[..., Settings],
) -> None:
    transport = MemoryFhirTransport(MemoryFhir(isaiah, base=DEFAULT_FHIR_SERVER))
    settings = settings_factory(fhir_allow_private_addresses=True, fhir_allow_unauthenticated=True)
    client = client_factory(settings, fhir_transport=transport)
    url = f"/cds-services/{registry().for_hook('order-select').id}"
    answers = []
    for mode in ("full", "none"):
        body = build_request(isaiah, [MGO], ISAIAH_ID, RequestOptions(prefetch=mode))
        response = client.post(url, json=body)
        assert response.status_code == 200, response.text
        answers.append(sorted(c["source"]["topic"]["code"] for c in response.json()["cards"]))
    assert answers[0] == answers[1] and "magnesium-deficiency" in answers[0]


def test_ready_made_request_gives_the_quinine_warning(client: TestClient) -> None:
    body = json.loads((FIXTURES / "requests" / "quinine-order-select.json").read_text())
    response = client.post("/cds-services/muscle-cramps-order-select", json=body)
    assert response.status_code == 200
    cards = response.json()["cards"]
    quinine = [c for c in cards if c["source"]["topic"]["code"] == "quinine-for-cramps"]
    assert len(quinine) == 1 and quinine[0]["indicator"] == "warning"
