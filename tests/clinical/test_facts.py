"""build_facts: real patients end to end, age and sex, derived eGFR, and robustness."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.clinical.facts import age_on, birth_date, build_facts
from cds_service.clinical.terminology import Terminology
from cds_service.clinical.types import ConditionFact, PatientFacts
from tests.builders import views
from tests.clinical.conftest import HOOKS, bundle_resources, load_json, med_request, obs, of_type


def facts(
    terminology: Terminology,
    resources: list[Any],
    as_of: date,
    *,
    patient: Any = "find",
    max_age: int = 365,
) -> PatientFacts:
    if patient == "find":
        patients = of_type(resources, "Patient")
        patient = patients[0] if patients else None
    return build_facts(
        patient=patient,
        observations=views(resources),
        medications=resources,
        conditions=resources,
        medication_index={},
        terminology=terminology,
        as_of=as_of,
        lab_max_age_days=max_age,
        patient_id="p1",
    )


def test_isaiah_older_adult_with_ckd(terminology: Terminology) -> None:
    result = facts(terminology, bundle_resources("Isaiah_Schaden"), date(2021, 1, 1))
    assert (result.age_years, result.sex) == (67, "male")
    assert result.egfr is not None and result.egfr.value == pytest.approx(41.6, abs=0.05)
    assert result.egfr.derived_from is None  # measured, not computed
    assert result.has_condition("ckd") and not result.has_condition("ckd_g4_g5")
    assert [m.display for m in result.takes("diuretic")] == ["Hydrochlorothiazide 25 MG"]
    assert all(m.status == "active" for m in result.active_medications)  # stopped ones left out
    assert result.data_notes == ()


def test_martina_egfr_in_ml_per_min_and_no_coded_ckd(terminology: Terminology) -> None:
    result = facts(terminology, bundle_resources("Martina_Murazik"), date(2021, 1, 1))
    assert (result.age_years, result.sex) == (67, "female")
    assert result.egfr is not None and result.egfr.value == pytest.approx(26.7, abs=0.05)
    assert result.egfr.note is not None and "mL/min" in result.egfr.note
    assert not result.has_condition("ckd")
    assert [m.display for m in result.takes("diuretic")] == ["Lasix 40mg"]


def test_smart_carl_lee_cyclobenzaprine_and_old_labs(terminology: Terminology) -> None:
    result = facts(terminology, bundle_resources("patient-1768562"), date(2009, 3, 1))
    assert result.age_years == 66
    assert [m.reference for m in result.takes("cyclobenzaprine")] == [
        "MedicationRequest/smart-MedicationRequest-202"
    ]
    assert result.labs == {}  # status "unknown" (STU3 SMART): not used, and said so
    assert any("status 'unknown'" in note for note in result.data_notes)
    assert result.has_condition("cardiac_arrhythmia")


def test_pddi_patient_gets_a_computed_egfr(terminology: Terminology) -> None:
    request = load_json(
        HOOKS / "hl7-pddi-cds__digoxin-cyclosporine-order-sign-no-coordination.json"
    )
    resources: list[Any] = []
    for value in request["prefetch"].values():
        if isinstance(value, dict):
            resources.extend(e["resource"] for e in value.get("entry", []))
    result = facts(terminology, resources, date(2020, 4, 1))
    assert result.age_years == 38
    egfr = result.egfr
    assert egfr is not None and egfr.derived_from == "Observation/o305"
    assert egfr.code == "98979-8" and egfr.source_id is None
    assert egfr.value == pytest.approx(121.0, abs=0.5)
    assert egfr.note == (
        "computed with CKD-EPI 2021 from creatinine 0.70 mg/dL on 2020-03-28, age 38, sex male"
    )
    assert result.lab("potassium") is not None and result.lab("potassium").value == 3.6  # type: ignore[union-attr]
    assert result.lab("magnesium") is not None and result.lab("magnesium").value == 0.8  # type: ignore[union-attr]


def test_computed_egfr_uses_age_at_the_creatinine_date(terminology: Terminology) -> None:
    patient = {"resourceType": "Patient", "birthDate": "1950-06-01", "gender": "female"}
    creatinine = obs("2160-0", 1.2, "mg/dL", when="2026-05-01", oid="cr")
    result = facts(terminology, [creatinine], date(2026, 11, 25), patient=patient)
    assert result.age_years == 76
    assert result.egfr is not None and "age 75" in (result.egfr.note or "")


def test_no_computed_egfr_when_one_is_reported_or_cannot_be_computed(
    terminology: Terminology,
) -> None:
    patient = {"resourceType": "Patient", "birthDate": "1950-06-01", "gender": "female"}
    creatinine = obs("2160-0", 1.2, "mg/dL", oid="cr")
    reported = obs("98979-8", 47, "mL/min/{1.73_m2}", oid="gfr")
    both = facts(terminology, [creatinine, reported], date(2026, 11, 25), patient=patient)
    assert both.egfr is not None and both.egfr.source_id == "Observation/gfr"
    unknown_sex = {"resourceType": "Patient", "birthDate": "1950-06-01", "gender": "unknown"}
    assert facts(terminology, [creatinine], date(2026, 11, 25), patient=unknown_sex).egfr is None
    child = {"resourceType": "Patient", "birthDate": "2015-06-01", "gender": "male"}
    assert facts(terminology, [creatinine], date(2026, 11, 25), patient=child).egfr is None
    post_dialysis = obs("11041-1", 1.2, "mg/dL", oid="post")
    assert facts(terminology, [post_dialysis], date(2026, 11, 25), patient=patient).labs == {}


@pytest.mark.parametrize(
    ("born", "as_of", "age", "noted"),
    [
        ("1953-02-19", date(2021, 2, 18), 67, False),
        ("1953-02-19", date(2021, 2, 19), 68, False),
        ("1960-02-29", date(2025, 2, 28), 64, False),
        ("1960-02-29", date(2025, 3, 1), 65, False),
        ("1960", date(2025, 6, 1), 65, True),
        ("1960-07", date(2025, 6, 30), 64, True),
        ("1960-07", date(2025, 7, 1), 65, True),
        ("2030-01-01", date(2025, 6, 1), None, False),  # born in the future
        ("1850-01-01", date(2025, 6, 1), None, False),  # implausible
        ("19x0", date(2025, 6, 1), None, True),
        (None, date(2025, 6, 1), None, False),
    ],
)
def test_age_in_whole_years(born: str | None, as_of: date, age: int | None, noted: bool) -> None:
    when, note = birth_date({"birthDate": born} if born else {})
    assert age_on(when, as_of) == age
    assert (note is not None) is noted


@pytest.mark.parametrize(
    ("gender", "sex"),
    [("male", "male"), ("female", "female"), ("other", None), ("unknown", None), (None, None)],
)
def test_sex_from_gender(terminology: Terminology, gender: str | None, sex: str | None) -> None:
    patient = {"resourceType": "Patient", "gender": gender}
    assert facts(terminology, [], date(2026, 1, 1), patient=patient).sex == sex


def test_junk_inputs_are_skipped(terminology: Terminology) -> None:
    junk: list[Any] = [
        None,
        1,
        "text",
        [],
        {},
        {"resourceType": "OperationOutcome", "issue": []},
        {"resourceType": "Medication", "id": "m1"},
        {"resourceType": "Bundle", "entry": []},
        med_request(rxnorm="828348", status="stopped"),
        med_request(rxnorm="997010", mid="q"),
    ]
    result = facts(terminology, junk, date(2026, 1, 1), patient="not a dict")
    assert (result.age_years, result.sex, result.labs, result.conditions) == (None, None, {}, ())
    assert [m.reference for m in result.active_medications] == ["MedicationRequest/q"]
    assert result.patient_id == "p1" and result.as_of == date(2026, 1, 1)


def test_inputs_may_be_generators(terminology: Terminology) -> None:
    result = build_facts(
        patient=None,
        observations=(o for o in views([obs("2823-3", 3.2, "mmol/L")])),
        medications=iter([med_request(rxnorm="828348")]),
        conditions=iter([]),
        medication_index={},
        terminology=terminology,
        as_of=date(2026, 11, 25),
        lab_max_age_days=365,
        patient_id="p1",
    )
    assert result.labs["potassium"].value == 3.2
    assert len(result.takes("cyclobenzaprine")) == 1


@given(
    st.lists(
        st.frozensets(st.sampled_from(["ckd", "ckd_g4_g5", "muscle_cramp", "cirrhosis"])),
        max_size=12,
    )
)
def test_conditions_by_group_answer_as_a_scan_would(groups_per_condition: list[frozenset[str]]) -> None:
    """The per-group index (built once, so rules asking per order stay linear) keeps the
    conditions' order and misses none."""
    conditions = tuple(
        ConditionFact(groups, f"c{i}", f"Condition/c{i}", None)
        for i, groups in enumerate(groups_per_condition)
    )
    facts = PatientFacts(patient_id="p", as_of=date(2026, 1, 1), age_years=50, sex=None,
                         conditions=conditions)
    for group in ("ckd", "ckd_g4_g5", "muscle_cramp", "cirrhosis", "malaria"):
        scan = tuple(c for c in conditions if group in c.groups)
        assert facts.conditions_in(group) == scan
        assert facts.has_condition(group) is bool(scan)
