"""Conditions: only current problems count, in R4, STU3 and DSTU2 shapes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cds_service.clinical.conditions import read_conditions
from cds_service.clinical.terminology import Terminology
from tests.clinical.conftest import SNOMED, bundle_resources, condition, fhir_file, of_type


def _read(terminology: Terminology, *items: Any) -> Any:
    return read_conditions(items, terminology=terminology)


@pytest.mark.parametrize(
    ("resource", "counts"),
    [
        (condition("N18.4"), True),
        (condition("N18.4", clinical="recurrence"), True),
        (condition("N18.4", clinical="relapse"), True),
        (condition("N18.4", clinical="active", stu3=True), True),  # STU3 plain string
        (condition("N18.4", clinical="relapsed", verification="provisional", stu3=True), True),
        (condition("N18.4", verification="unconfirmed"), True),
        (condition("N18.4", verification="provisional"), True),
        (condition("N18.4", verification=None), True),
        (condition("N18.4", clinical="inactive"), False),
        (condition("N18.4", clinical="resolved"), False),
        (condition("N18.4", clinical="remission"), False),
        (condition("N18.4", clinical=None), False),  # no status: not assumed active
        (condition("N18.4", verification="refuted"), False),
        (condition("N18.4", verification="entered-in-error"), False),
        (condition("N18.4", verification="differential"), False),
        (condition("N18.4", verification="refuted", stu3=True), False),
        (condition("N18.4", abatementDateTime="2020-01-01"), False),
        (condition("N18.4", abatementBoolean=True), False),
        (condition("N18.4", abatementString="in 2019"), False),
        (condition("N18.4", abatementBoolean=False), True),
        (condition("N18.4", clinicalStatus={"coding": "junk"}), False),
    ],
)
def test_which_conditions_count(
    terminology: Terminology, resource: dict[str, Any], counts: bool
) -> None:
    facts = _read(terminology, resource).conditions
    assert bool(facts) is counts
    if counts:
        assert facts[0].groups == {"ckd", "ckd_g4_g5"}
        assert facts[0].source_id == "Condition/c1"


def test_fact_carries_display_onset_and_groups(terminology: Terminology) -> None:
    resource = condition("K74.60", onsetDateTime="2019-03-04T10:00:00Z")
    fact = _read(terminology, resource).conditions[0]
    assert fact.display == "condition K74.60"
    assert fact.onset == date(2019, 3, 4)
    assert fact.groups == {"cirrhosis"}
    period = condition("K74.60", onsetPeriod={"start": "2018-01"})
    assert _read(terminology, period).conditions[0].onset == date(2018, 1, 1)


def test_ungrouped_current_conditions_are_kept_with_no_groups(terminology: Terminology) -> None:
    fact = _read(terminology, condition("12847006", SNOMED)).conditions[0]
    assert fact.groups == frozenset()


def test_relevant_conditions_without_status_are_noted(terminology: Terminology) -> None:
    reading = _read(terminology, condition("N18.5", clinical=None), condition("J45", clinical=None))
    assert reading.conditions == ()
    assert reading.notes == ("1 relevant condition(s) without a clinical status were not used.",)


def test_junk_and_other_types_are_skipped(terminology: Terminology) -> None:
    reading = _read(
        terminology,
        None,
        1,
        "x",
        {"resourceType": "Observation"},
        {},
        {"resourceType": "Condition"},
    )
    assert reading.conditions == () and reading.notes == ()


def test_condition_f204_inactive_differential_does_not_count(terminology: Terminology) -> None:
    assert _read(terminology, fhir_file("Condition-f204")).conditions == ()


def test_synthea_isaiah_ckd_stages_1_and_2(terminology: Terminology) -> None:
    conditions = of_type(bundle_resources("Isaiah_Schaden"), "Condition")
    facts = _read(terminology, *conditions).conditions
    ckd = [f for f in facts if "ckd" in f.groups]
    assert {f.display for f in ckd} == {
        "Chronic kidney disease stage 1 (disorder)",
        "Chronic kidney disease stage 2 (disorder)",
    }
    assert not any("ckd_g4_g5" in f.groups for f in facts)


def test_smart_stu3_conditions_with_string_statuses(terminology: Terminology) -> None:
    conditions = of_type(bundle_resources("patient-1768562"), "Condition")
    facts = _read(terminology, *conditions).conditions
    assert len(facts) == 15
    assert any("cardiac_arrhythmia" in f.groups for f in facts)  # atrial fibrillation
