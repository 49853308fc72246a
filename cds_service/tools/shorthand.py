"""Scenario shorthand -> proper FHIR R4 resources (Patient, Observation, Condition,
MedicationRequest), so scenario files stay short and every resource is still real FHIR."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cds_service.tools.bundles import Resource
from cds_service.tools.scenario_model import ConditionShort, LabShort, OrderShort, PatientShort

SYSTEMS = {
    "icd10": "http://hl7.org/fhir/sid/icd-10-cm",
    "icd-10-cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "snomed": "http://snomed.info/sct",
    "sct": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
}
UCUM = "http://unitsofmeasure.org"
RXNORM = SYSTEMS["rxnorm"]
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_LAB_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def system_uri(name: str) -> str:
    return SYSTEMS.get(name.lower(), name)


def coded(token: str, default_system: str = "icd10") -> tuple[str, str]:
    """`snomed|55300003` or `http://...|X` -> (uri, code); a bare code takes the default system."""
    if "|" in token:
        system, code = token.rsplit("|", 1)
        return system_uri(system), code
    return system_uri(default_system), token


def subject(patient_id: str) -> dict[str, str]:
    return {"reference": f"Patient/{patient_id}"}


def patient(short: PatientShort, as_of: dt.date) -> Resource:
    resource: Resource = {"resourceType": "Patient", "id": short.id}
    born = short.birth_date
    if short.age is not None:
        born = dt.date(as_of.year - short.age, as_of.month, 1)
    if born is not None:
        resource["birthDate"] = born.isoformat()
    if short.gender is not None:
        resource["gender"] = short.gender
    return resource


def lab(short: LabShort, patient_id: str, as_of: dt.date, index: int) -> Resource:
    quantity: dict[str, Any] = {"value": short.value, "unit": short.unit}
    if short.ucum is not False:
        quantity["system"] = UCUM
        quantity["code"] = short.ucum if isinstance(short.ucum, str) else short.unit
    if short.comparator:
        quantity["comparator"] = short.comparator
    resource: Resource = {
        "resourceType": "Observation",
        "id": short.id or f"lab-{index}-{short.code.replace('.', '-')}",
        "status": short.status,
        "category": [{"coding": [{"system": _LAB_CATEGORY, "code": "laboratory"}]}],
        "code": {"coding": [{"system": system_uri(short.system), "code": short.code}]},
        "subject": subject(patient_id),
        "valueQuantity": quantity,
    }
    if not short.undated:
        when = short.date or as_of - dt.timedelta(days=short.days_ago or 0)
        resource["effectiveDateTime"] = when.isoformat()
    if short.interpretation:
        resource["interpretation"] = [
            {"coding": [{"system": _INTERPRETATION, "code": short.interpretation}]}
        ]
    if short.ref_low is not None or short.ref_high is not None:
        limits: dict[str, Any] = {}
        for key, value in (("low", short.ref_low), ("high", short.ref_high)):
            if value is not None:
                limits[key] = {k: v for k, v in quantity.items() if k != "comparator"}
                limits[key]["value"] = value
        resource["referenceRange"] = [limits]
    return resource


def condition(short: ConditionShort | str, patient_id: str, index: int) -> Resource:
    if isinstance(short, str):
        system, code = coded(short)
        short = ConditionShort(code=code, system=system)
    coding: dict[str, str] = {"system": system_uri(short.system), "code": short.code}
    if short.display:
        coding["display"] = short.display
    resource: Resource = {
        "resourceType": "Condition",
        "id": short.id or f"cond-{index}-{short.code.replace('.', '-')}",
        "clinicalStatus": {"coding": [{"system": _CLINICAL, "code": short.clinical_status}]},
        "verificationStatus": {"coding": [{"system": _VERIFICATION, "code": short.verification}]},
        "code": {"coding": [coding], **({"text": short.display} if short.display else {})},
        "subject": subject(patient_id),
    }
    if short.onset:
        resource["onsetDateTime"] = short.onset.isoformat()
    return resource


def _dosage(dose_mg: float, per_day: float, text: str | None, days: int | None) -> Resource:
    repeat: dict[str, Any] = {"frequency": per_day, "period": 1, "periodUnit": "d"}
    if days:
        repeat["boundsDuration"] = {"value": days, "unit": "d", "system": UCUM, "code": "d"}
    dosage: Resource = {
        "timing": {"repeat": repeat},
        "doseAndRate": [{"doseQuantity": {"value": dose_mg, "unit": "mg", "system": UCUM,
                                          "code": "mg"}}],
    }  # fmt: skip
    if text:
        dosage["text"] = text
    return dosage


def medication_request(
    short: OrderShort, patient_id: str, index: int, *, default_status: str
) -> Resource:
    """A MedicationRequest; `index` numbers generated ids (draft-1, med-1, ...)."""
    prefix = "draft" if default_status == "draft" else "med"
    concept: dict[str, Any] = {}
    if short.rxnorm:
        coding = {"system": RXNORM, "code": short.rxnorm}
        if short.display:
            coding["display"] = short.display
        concept["coding"] = [coding]
    if short.text or short.display:
        concept["text"] = short.text or short.display
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": short.id or f"{prefix}-{index}",
        "status": short.status or default_status,
        "intent": "order",
        "subject": subject(patient_id),
        "medicationCodeableConcept": concept,
    }
    if short.reason or short.reason_text:
        reason: dict[str, Any] = {}
        if short.reason:
            system, code = coded(short.reason)
            reason["coding"] = [{"system": system, "code": code}]
        if short.reason_text:
            reason["text"] = short.reason_text
        resource["reasonCode"] = [reason]
    if short.note:
        resource["note"] = [{"text": short.note}]
    dosages: list[Resource] = []
    if short.steps:
        dosages = [
            {**_dosage(s.dose_mg, s.per_day, None, s.days), "sequence": n}
            for n, s in enumerate(short.steps, start=1)
        ]
    elif short.dose_mg is not None:
        dosages = [_dosage(short.dose_mg, short.per_day or 1, short.dosage_text, None)]
    elif short.dosage_text:
        dosages = [{"text": short.dosage_text}]
    if short.route:
        dosages = [{**d, "route": {"text": short.route}} for d in dosages or [{}]]
    if dosages:
        resource["dosageInstruction"] = dosages
    return resource
