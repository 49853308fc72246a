"""Labs read from the public conformance files (Synthea, PDDI, FHIR R4 and US Core examples)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cds_service.clinical.labs import read_labs
from cds_service.clinical.terminology import Terminology
from cds_service.clinical.units import EGFR_PER_BSA_NOTE
from tests.builders import views
from tests.clinical.conftest import HOOKS, LOINC, bundle_resources, fhir_file, load_json, of_type


def test_synthea_isaiah_latest_egfr_and_potassium(terminology: Terminology) -> None:
    observations = of_type(bundle_resources("Isaiah_Schaden"), "Observation")
    result = read_labs(
        views(observations), terminology=terminology, as_of=date(2021, 1, 1), max_age_days=365
    )
    egfr = result.labs["egfr"]
    assert egfr.value == pytest.approx(41.6, abs=0.05)
    assert (egfr.when, egfr.code, egfr.note) == (date(2020, 9, 17), "33914-3", None)
    assert egfr.original.endswith("mL/min/{1.73_m2}")
    assert result.labs["potassium"].value == pytest.approx(4.50, abs=0.005)
    assert result.labs["potassium"].code == "6298-4"
    assert result.labs["creatinine"].value == pytest.approx(2.34, abs=0.005)
    assert result.labs["creatinine"].code == "38483-4"


def test_synthea_martina_egfr_in_ml_per_min(terminology: Terminology) -> None:
    observations = of_type(bundle_resources("Martina_Murazik"), "Observation")
    result = read_labs(
        views(observations), terminology=terminology, as_of=date(2021, 1, 1), max_age_days=365
    )
    egfr = result.labs["egfr"]
    assert egfr.value == pytest.approx(26.7, abs=0.05)
    assert egfr.when == date(2020, 12, 12)
    assert egfr.note == EGFR_PER_BSA_NOTE
    assert result.labs["creatinine"].value == pytest.approx(0.62, abs=0.005)


def _pddi_labs() -> list[dict[str, Any]]:
    request = load_json(
        HOOKS / "hl7-pddi-cds__digoxin-cyclosporine-order-sign-no-coordination.json"
    )
    out = []
    for value in request["prefetch"].values():
        if isinstance(value, dict):
            out.extend(e["resource"] for e in value.get("entry", []))
    return of_type(out, "Observation")


def test_pddi_order_sign_labs(terminology: Terminology) -> None:
    result = read_labs(
        views(_pddi_labs()), terminology=terminology, as_of=date(2020, 4, 1), max_age_days=365
    )
    potassium = result.labs["potassium"]
    assert (potassium.value, potassium.code, potassium.original) == (3.6, "75940-7", "3.6 mEq/L")
    magnesium = result.labs["magnesium"]
    assert (magnesium.value, magnesium.code) == (0.8, "19123-9")
    assert result.labs["calcium"].value == pytest.approx(2.1457, abs=1e-3)
    assert result.labs["creatinine"].value == 0.7
    assert "egfr" not in result.labs  # computed later, in facts
    assert result.notes == ()


def test_observation_f205_egfr_only_in_components(terminology: Terminology) -> None:
    result = read_labs(
        views([fhir_file("Observation-f205")]),
        terminology=terminology,
        as_of=date(2013, 6, 1),
        max_age_days=365,
    )
    egfr = result.labs["egfr"]
    assert (egfr.value, egfr.comparator) == (60, ">")  # at least 60: not missing, not low
    assert egfr.at_most() is None
    assert egfr.when == date(2013, 4, 4)  # issued only
    assert egfr.code == "48643-1"
    assert egfr.original == ">60 mL/min/1.73m2"
    assert egfr.source_id == "Observation/f205"


def test_observation_f204_local_code_only_is_not_creatinine(terminology: Terminology) -> None:
    # 122 umol/L creatinine, but coded only with a local lab code: without a LOINC code the
    # service cannot know what was measured, so the value is not used (documented limit).
    result = read_labs(
        views([fhir_file("Observation-f204")]),
        terminology=terminology,
        as_of=date(2013, 6, 1),
        max_age_days=365,
    )
    assert result.labs == {}
    recoded = fhir_file("Observation-f204")
    recoded["code"]["coding"].append({"system": LOINC, "code": "14682-9"})
    creatinine = read_labs(
        views([recoded]), terminology=terminology, as_of=date(2013, 6, 1), max_age_days=365
    ).labs["creatinine"]
    assert creatinine.value == pytest.approx(1.38, abs=0.005)  # SNOMED unit system, text umol/L
    assert creatinine.interpretation == "high"


def test_bundle_ghp_units_without_ucum_and_undated_members(terminology: Terminology) -> None:
    observations = of_type(bundle_resources("Bundle-ghp"), "Observation")
    result = read_labs(
        views(observations), terminology=terminology, as_of=date(2015, 9, 1), max_age_days=365
    )
    assert result.labs["potassium"].value == 4.2
    assert result.labs["creatinine"].value == pytest.approx(1.02, abs=0.005)
    assert result.labs["potassium"].when is None
    assert result.labs["potassium"].interpretation == "normal"  # from its reference range
    assert any("potassium result has no date" in note for note in result.notes)


def test_us_core_potassium_near_the_upper_limit(terminology: Terminology) -> None:
    result = read_labs(
        views([fhir_file("observation-serum-potassium")]),
        terminology=terminology,
        as_of=date(2005, 8, 1),
        max_age_days=365,
    )
    potassium = result.labs["potassium"]
    assert (potassium.value, potassium.interpretation) == (5.4, "normal")


def test_smart_stu3_status_unknown_labs_are_noted_not_used(terminology: Terminology) -> None:
    observations = of_type(bundle_resources("patient-2042917"), "Observation")
    result = read_labs(
        views(observations), terminology=terminology, as_of=date(2010, 1, 1), max_age_days=365
    )
    assert result.labs == {}
    assert "5 potassium result(s) with status 'unknown' were not used." in result.notes
