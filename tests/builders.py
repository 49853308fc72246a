"""Small builders for FHIR R4 resources and hook requests used across the tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import msgspec

from cds_service.cdshooks.resources import Resource, view

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"

PATIENT_ID = "pat-1"


def patient(birth_date: str = "1950-03-01", gender: str = "female", pid: str = PATIENT_ID) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": birth_date, "gender": gender}


def observation(
    code: str,
    value: float,
    unit: str,
    when: str = "2026-11-01",
    *,
    oid: str | None = None,
    status: str = "final",
    ucum: str | None = None,
    comparator: str | None = None,
) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "unit": unit, "system": UCUM, "code": ucum or unit}
    if comparator:
        quantity["comparator"] = comparator
    return {
        "resourceType": "Observation",
        "id": oid or f"obs-{uuid.uuid4().hex[:8]}",
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": when,
        "valueQuantity": quantity,
    }


def condition(code: str, system: str = ICD10, display: str = "", *, cid: str | None = None) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid or f"cond-{uuid.uuid4().hex[:8]}",
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "verificationStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
            ]
        },
        "code": {"coding": [{"system": system, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }


def medication_request(
    rxnorm: str,
    display: str,
    *,
    mid: str | None = None,
    status: str = "draft",
    reason: tuple[str, str] | None = None,
    dose_mg: float | None = None,
    per_day: int | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": mid or f"mr-{uuid.uuid4().hex[:8]}",
        "status": status,
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": rxnorm, "display": display}],
            "text": display,
        },
    }
    if reason:
        resource["reasonCode"] = [{"coding": [{"system": reason[0], "code": reason[1]}]}]
    if dose_mg is not None:
        resource["dosageInstruction"] = [
            {
                "timing": {"repeat": {"frequency": per_day or 1, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}],
            }
        ]
    return resource


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


def hook_request(
    hook: str = "order-sign",
    *,
    patient_resource: dict[str, Any] | None = None,
    observations: list[dict[str, Any]] | None = None,
    medications: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    drafts: list[dict[str, Any]] | None = None,
    selections: list[str] | None = None,
    prefetch: bool = True,
    fhir_server: str | None = None,
) -> dict[str, Any]:
    """A complete hook request; by default every prefetch key is satisfied."""
    context: dict[str, Any] = {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID}
    if hook != "patient-view":
        bundle = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"resource": d} for d in (drafts or [])]}
        context["draftOrders"] = bundle
        if hook == "order-select":
            context["selections"] = (
                selections
                if selections is not None
                else [f"{d['resourceType']}/{d['id']}" for d in (drafts or [])]
            )
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if fhir_server:
        body["fhirServer"] = fhir_server
    if prefetch:
        body["prefetch"] = {
            "patient": patient_resource or patient(),
            "observations": searchset(*(observations or [])),
            "medications": searchset(*(medications or [])),
            "conditions": searchset(*(conditions or [])),
        }
    return body


SERVICE_FOR_HOOK = {
    "patient-view": "muscle-cramps-patient-view",
    "order-select": "muscle-cramps-order-select",
    "order-sign": "muscle-cramps-order-sign",
}


def service_url(hook: str) -> str:
    return f"/cds-services/{SERVICE_FOR_HOOK[hook]}"


def views(items: Iterable[object]) -> list[Resource]:
    """JSON resources as the request decoder hands them to the readers. An item the decoder
    would refuse (the whole call gets a 400) never reaches a reader, so it is left out."""
    out: list[Resource] = []
    for item in items:
        if isinstance(item, dict):
            try:
                out.append(view(item))
            except msgspec.ValidationError:
                continue
    return out
