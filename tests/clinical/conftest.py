"""Fixtures for the clinical layer: the real terminology, conformance files, resource builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cds_service.clinical.terminology import Terminology, get_terminology

CONFORMANCE = Path(__file__).resolve().parents[2] / "fixtures" / "conformance"
FHIR = CONFORMANCE / "fhir"
HOOKS = CONFORMANCE / "cds-hooks"

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


@pytest.fixture(scope="session")
def terminology() -> Terminology:
    return get_terminology()


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def fhir_file(name: str) -> dict[str, Any]:
    """One file of fixtures/conformance/fhir, by its name without the source prefix."""
    matches = sorted(FHIR.glob(f"*{name}*"))
    assert len(matches) == 1, f"{name}: {matches}"
    data: dict[str, Any] = load_json(matches[0])
    return data


def bundle_resources(name: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in fhir_file(name)["entry"]]


def of_type(resources: list[dict[str, Any]], rtype: str) -> list[dict[str, Any]]:
    return [r for r in resources if r.get("resourceType") == rtype]


def obs(
    code: str | None,
    value: Any = None,
    unit: str | None = None,
    *,
    when: str | None = "2026-11-01",
    status: str = "final",
    oid: str = "o1",
    ucum: str | None = "same",
    system: str | None = LOINC,
    comparator: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An Observation; `ucum="same"` copies `unit` into valueQuantity.code with the UCUM system."""
    resource: dict[str, Any] = {"resourceType": "Observation", "id": oid, "status": status}
    if code is not None:
        coding: dict[str, Any] = {"code": code}
        if system is not None:
            coding["system"] = system
        resource["code"] = {"coding": [coding]}
    if when is not None:
        resource["effectiveDateTime"] = when
    if value is not None or unit is not None:
        quantity: dict[str, Any] = {"value": value}
        if unit is not None:
            quantity["unit"] = unit
        if ucum is not None:
            quantity["system"] = UCUM
            quantity["code"] = unit if ucum == "same" else ucum
        if comparator is not None:
            quantity["comparator"] = comparator
        resource["valueQuantity"] = quantity
    resource.update(extra)
    return resource


def med_request(
    *,
    rxnorm: str | None = None,
    display: str | None = None,
    text: str | None = None,
    mid: str = "mr1",
    status: str = "active",
    **extra: Any,
) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if rxnorm is not None or display is not None:
        coding: dict[str, Any] = {"system": RXNORM}
        if rxnorm is not None:
            coding["code"] = rxnorm
        if display is not None:
            coding["display"] = display
        concept["coding"] = [coding]
    if text is not None:
        concept["text"] = text
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
    }
    resource.update(extra)
    return resource


def condition(
    code: str,
    system: str = ICD10CM,
    *,
    clinical: Any = "active",
    verification: Any = "confirmed",
    cid: str = "c1",
    stu3: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A Condition: statuses as R4 CodeableConcepts, or as plain strings when `stu3`."""
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "code": {"coding": [{"system": system, "code": code}], "text": f"condition {code}"},
    }
    for key, value in (("clinicalStatus", clinical), ("verificationStatus", verification)):
        if value is not None:
            wrap = isinstance(value, str) and not stu3
            resource[key] = {"coding": [{"code": value}]} if wrap else value
    resource.update(extra)
    return resource
