"""FHIR resources of one hook call -> one immutable PatientFacts for the rules.

Inputs are whatever prefetch or the FHIR server gave: they may include non-dicts,
OperationOutcomes, and resources of other types (a searchset can carry Medications pulled in
by _include). Each reader skips what is not its type, so nothing here raises on bad data.
Thresholds are not applied here (the rules do that), except that a lab's own interpretation
is carried along.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from cds_service.cdshooks.resources import Resource
from cds_service.clinical.conditions import read_conditions
from cds_service.clinical.egfr import computed_egfr
from cds_service.clinical.labs import read_labs
from cds_service.clinical.medications import read_medications
from cds_service.clinical.terminology import Terminology
from cds_service.clinical.types import LabValue, Medication, PatientFacts, Sex

ACTIVE_ORDER_STATUSES = frozenset({"active"})


def birth_date(patient: Mapping[str, Any] | None) -> tuple[date | None, str | None]:
    """Patient.birthDate (YYYY, YYYY-MM or YYYY-MM-DD) as a date; partial dates read as the
    first day of the year or month, with a note saying so."""
    raw = patient.get("birthDate") if patient is not None else None
    if not isinstance(raw, str):
        return None, None
    text = raw.strip()
    try:
        if len(text) == 4:
            return date(int(text), 1, 1), "Birth date has only a year; age assumes 1 January."
        if len(text) == 7:
            born = date(int(text[:4]), int(text[5:7]), 1)
            return born, "Birth date has no day; age assumes the 1st of the month."
        return date.fromisoformat(text[:10]), None
    except ValueError:
        return None, "Birth date could not be read; age unknown."


def age_on(born: date | None, when: date) -> int | None:
    """Whole years from `born` to `when`; None when unknown or not plausible."""
    if born is None or born > when:
        return None
    years = when.year - born.year - ((when.month, when.day) < (born.month, born.day))
    return years if years <= 130 else None


def sex_of(patient: Mapping[str, Any] | None) -> Sex | None:
    gender = patient.get("gender") if patient is not None else None
    if gender == "male":
        return "male"
    if gender == "female":
        return "female"
    return None


def build_facts(
    *,
    patient: dict[str, Any] | None,
    observations: Iterable[Resource],
    medications: Iterable[object],
    conditions: Iterable[object],
    medication_index: Mapping[str, dict[str, Any]],
    terminology: Terminology,
    as_of: date,
    lab_max_age_days: int,
    patient_id: str,
) -> PatientFacts:
    """Everything the rules know about the patient at `as_of`."""
    patient = patient if isinstance(patient, dict) else None
    notes: list[str] = []
    born, born_note = birth_date(patient)
    if born_note:
        notes.append(born_note)
    age, sex = age_on(born, as_of), sex_of(patient)
    lab_reading = read_labs(
        observations, terminology=terminology, as_of=as_of, max_age_days=lab_max_age_days
    )
    labs = dict(lab_reading.labs)
    notes.extend(lab_reading.notes)
    derived = _derived_egfr(labs, born, as_of, sex)
    if derived is not None:
        labs["egfr"] = derived
    condition_reading = read_conditions(conditions, terminology=terminology)
    notes.extend(condition_reading.notes)
    meds = read_medications(medications, terminology=terminology, medication_index=medication_index)
    return PatientFacts(
        patient_id=patient_id,
        as_of=as_of,
        age_years=age,
        sex=sex,
        labs=labs,
        conditions=condition_reading.conditions,
        active_medications=tuple(m for m in meds if _is_active(m)),
        data_notes=tuple(notes),
    )


def _derived_egfr(
    labs: dict[str, LabValue], born: date | None, as_of: date, sex: Sex | None
) -> LabValue | None:
    """CKD-EPI 2021 from the creatinine when no eGFR result is in the window."""
    creatinine = labs.get("creatinine")
    if "egfr" in labs or creatinine is None:
        return None
    return computed_egfr(creatinine, age_on(born, creatinine.when or as_of), sex)


def _is_active(medication: Medication) -> bool:
    """Active orders; an order without a status counts (the query asked for active ones)."""
    return medication.status is None or medication.status in ACTIVE_ORDER_STATUSES
