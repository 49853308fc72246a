"""Observations -> the latest valid result per analyte, on hand-made and real conformance data."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cds_service.clinical.labs import LabReading, read_labs
from cds_service.clinical.terminology import Terminology
from cds_service.clinical.units import EGFR_PER_BSA_NOTE
from tests.builders import views
from tests.clinical.conftest import (
    LOINC,
    UCUM,
    V3_INTERPRETATION,
    obs,
)

AS_OF = date(2026, 11, 25)


def labs(
    terminology: Terminology, *observations: Any, as_of: date = AS_OF, max_age_days: int = 365
) -> LabReading:
    return read_labs(
        views(observations), terminology=terminology, as_of=as_of, max_age_days=max_age_days
    )


# -- value, unit and provenance ------------------------------------------------------------


def test_reads_value_unit_date_and_provenance(terminology: Terminology) -> None:
    result = labs(terminology, obs("19123-9", 1.7, "mg/dL", oid="mg1", when="2026-11-20T08:00:00Z"))
    mg = result.labs["magnesium"]
    assert mg.value == pytest.approx(0.699, abs=1e-3)
    assert mg.unit == "mmol/L"
    assert mg.when == date(2026, 11, 20)
    assert mg.original == "1.7 mg/dL"
    assert mg.source_id == "Observation/mg1"
    assert mg.code == "19123-9"
    assert mg.comparator is None and mg.derived_from is None
    assert result.notes == ()


@pytest.mark.parametrize(
    ("observation", "analyte", "value"),
    [
        (obs("2823-3", 3.6, "mEq/L"), "potassium", 3.6),
        (obs("75940-7", 3.6, "mEq/L"), "potassium", 3.6),  # mass code, molar unit: unit wins
        (obs("19123-9", 0.8, "mmol/L"), "magnesium", 0.8),  # mass code, molar unit
        (obs("2601-3", 1.8, "mg/dL"), "magnesium", 0.7406),  # molar code, mass unit
        (obs("14682-9", 0.09, "mmol/L", ucum=None), "creatinine", 1.0179),  # unit text only
        (obs("2160-0", 122, "umol/L", ucum="258814008"), "creatinine", 1.3798),
        (obs("2823-3", 4.2, None, ucum="mmol/L"), "potassium", 4.2),  # code only, no text
        (obs("2823-3", 4.2, "mmol/L", system=None), "potassium", 4.2),  # LOINC without system
        (obs("17861-6", 8.6, "mg/dL"), "calcium", 2.1457),
        (obs("2157-6", 250, "U/L"), "creatine_kinase", 250),
        (obs("3016-3", 6.1, "u[IU]/mL"), "tsh", 6.1),
    ],
)
def test_unit_on_the_value_decides(
    terminology: Terminology, observation: dict[str, Any], analyte: str, value: float
) -> None:
    assert labs(terminology, observation).labs[analyte].value == pytest.approx(value, abs=5e-4)


@pytest.mark.parametrize(
    ("value", "unit", "reason"),
    [
        ("4.2", "mmol/L", "not a number"),  # a string
        (float("nan"), "mmol/L", "not a number"),
        (float("inf"), "mmol/L", "not a number"),
        (-1.0, "mmol/L", "not positive"),
        (0, "mmol/L", "not positive"),
        (42.0, "mmol/L", "implausible"),
        (4.2, "g/L", "not recognised"),
        (4.2, None, "no unit"),
    ],
)
def test_malformed_values_are_skipped_with_a_note(
    terminology: Terminology, value: Any, unit: str | None, reason: str
) -> None:
    result = labs(terminology, obs("2823-3", value, unit, ucum="same" if unit else None))
    assert "potassium" not in result.labs
    assert any(reason in note for note in result.notes), result.notes


def test_a_bad_latest_value_falls_back_to_the_latest_good_one(terminology: Terminology) -> None:
    result = labs(
        terminology,
        obs("2823-3", 3.1, "mmol/L", when="2026-10-01", oid="good"),
        obs("2823-3", "oops", "mmol/L", when="2026-11-01", oid="bad"),
    )
    assert result.labs["potassium"].source_id == "Observation/good"
    assert result.notes


def test_other_value_types_and_missing_values_are_skipped(terminology: Terminology) -> None:
    string_value = obs("33914-3", None, None, valueString=">60")
    absent = obs("2823-3", None, None, dataAbsentReason={"text": "not done"})
    result = labs(terminology, string_value, absent)
    assert result.labs == {}
    assert len(result.notes) == 2


def test_comparators_are_kept_and_shown(terminology: Terminology) -> None:
    result = labs(terminology, obs("98979-8", 90, "mL/min/{1.73_m2}", comparator=">"))
    egfr = result.labs["egfr"]
    assert (egfr.value, egfr.comparator, egfr.at_most()) == (90, ">", None)
    assert egfr.original == ">90 mL/min/{1.73_m2}"
    bad = labs(terminology, obs("98979-8", 90, "mL/min/{1.73_m2}", comparator="ad"))
    assert bad.labs == {}


def test_zero_width_characters_do_not_break_reading(terminology: Terminology) -> None:
    observation = obs("2823-3", 4.0, "mmol/L\u200b", ucum=None)
    observation["code"]["coding"][0]["code"] = "2823-3\u200b"
    result = labs(terminology, observation)
    assert result.labs["potassium"].value == 4.0
    assert result.labs["potassium"].original == "4 mmol/L"


def test_plain_ml_per_min_egfr_is_used_with_a_note(terminology: Terminology) -> None:
    egfr = labs(terminology, obs("33914-3", 26.7, "mL/min")).labs["egfr"]
    assert egfr.value == 26.7 and egfr.note == EGFR_PER_BSA_NOTE


# -- interpretation --------------------------------------------------------------------------


def _flag(code: str, system: str | None = V3_INTERPRETATION) -> dict[str, Any]:
    coding = {"code": code} if system is None else {"system": system, "code": code}
    return {"interpretation": [{"coding": [coding]}]}


def _range(low: float | None, high: float | None, unit: str | None = None) -> dict[str, Any]:
    rng: dict[str, Any] = {}
    for key, value in (("low", low), ("high", high)):
        if value is not None:
            rng[key] = {"value": value} | (
                {"unit": unit, "system": UCUM, "code": unit} if unit else {}
            )
    return {"referenceRange": [rng]}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (_flag("L"), "low"),
        (_flag("LL"), "low"),
        (_flag("H"), "high"),
        (_flag("HH"), "high"),
        (_flag("N"), "normal"),
        (_flag("L", None), "low"),
        (_flag("L", "http://hl7.org/fhir/v2/0078"), "low"),  # STU3 system
        (_flag("L", "http://example.org/other"), None),
        (_flag("A"), None),
        (_range(1.8, 2.6, "mg/dL"), "low"),  # value 0.70 mmol/L < 1.8 mg/dL = 0.74
        (_range(0.66, 1.07, "mmol/L"), "normal"),
        (_range(0.5, 0.6, "mmol/L"), "high"),
        (_range(1.7, None, "mg/dL"), "normal"),  # 0.70 >= 0.6995
        (_range(0.75, None), "low"),  # bounds without a unit share the value's unit
        (_range(None, None), None),
        (_flag("H") | _range(0.5, 1.0, "mmol/L"), "high"),  # the lab's own flag wins
    ],
)
def test_interpretation_from_flag_or_reference_range(
    terminology: Terminology, extra: dict[str, Any], expected: str | None
) -> None:
    observation = obs("2601-3", 0.70, "mmol/L", **extra)
    assert labs(terminology, observation).labs["magnesium"].interpretation == expected


def test_reference_range_is_kept_in_canonical_units(terminology: Terminology) -> None:
    """For "10x the upper limit" (CK) the result's own range is kept, converted."""
    ck = labs(terminology, obs("2157-6", 900, "U/L", **_range(40, 180, "U/L"))).labs
    assert (ck["creatine_kinase"].reference_low, ck["creatine_kinase"].reference_high) == (40, 180)
    assert ck["creatine_kinase"].interpretation == "high"
    mg = labs(terminology, obs("19123-9", 2.0, "mg/dL", **_range(1.7, 2.6, "mg/dL"))).labs
    assert mg["magnesium"].reference_high == pytest.approx(2.6 * 0.41144, abs=1e-4)
    bare = labs(terminology, obs("2157-6", 900, "U/L")).labs["creatine_kinase"]
    assert (bare.reference_low, bare.reference_high, bare.interpretation) == (None, None, None)


def test_a_flag_with_a_range_keeps_both(terminology: Terminology) -> None:
    result = labs(terminology, obs("2823-3", 5.4, "mmol/L", **(_flag("N") | _range(3.5, 5.5))))
    k = result.labs["potassium"]
    assert (k.interpretation, k.reference_high) == ("normal", 5.5)


@pytest.mark.parametrize(("code", "ionized"), [("1994-3", True), ("17861-6", False), ("2000-8", False)])
def test_ionized_calcium_is_marked(terminology: Terminology, code: str, ionized: bool) -> None:
    unit = "mg/dL" if code == "17861-6" else "mmol/L"
    value = 9.2 if unit == "mg/dL" else 1.2
    assert labs(terminology, obs(code, value, unit)).labs["calcium"].ionized is ionized


# -- status, dates and choosing the latest -------------------------------------------------


@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_valid_statuses(terminology: Terminology, status: str) -> None:
    assert "potassium" in labs(terminology, obs("2823-3", 4.0, "mmol/L", status=status)).labs


@pytest.mark.parametrize(
    "status", ["preliminary", "registered", "unknown", "cancelled", "entered-in-error", None]
)  # a status that is not text is refused at the edge (tests/api/test_protocol.py)
def test_other_statuses_are_not_used(terminology: Terminology, status: Any) -> None:
    observation = obs("2823-3", 4.0, "mmol/L")
    observation["status"] = status
    result = labs(terminology, observation)
    assert result.labs == {}
    noted = any("status" in note for note in result.notes)
    assert noted == (status not in ("cancelled", "entered-in-error"))


def test_latest_dated_result_wins(terminology: Terminology) -> None:
    result = labs(
        terminology,
        obs("2823-3", 3.1, "mmol/L", when="2026-10-01", oid="old"),
        obs("6298-4", 4.4, "mmol/L", when="2026-11-02T07:00:00+01:00", oid="new"),
        obs("2823-3", 3.9, "mmol/L", when="2026-11-02T06:00:00+01:00", oid="same-day-earlier"),
    )
    assert result.labs["potassium"].source_id == "Observation/new"


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        ({"effectivePeriod": {"start": "2026-10-01", "end": "2026-10-03"}}, date(2026, 10, 3)),
        ({"effectivePeriod": {"start": "2026-10-01"}}, date(2026, 10, 1)),
        ({"effectiveInstant": "2026-10-05T10:00:00Z"}, date(2026, 10, 5)),
        ({"issued": "2026-10-07T10:00:00Z"}, date(2026, 10, 7)),
        ({"effectiveDateTime": "2026-10", "issued": "2026-11-07"}, date(2026, 10, 1)),
        ({"effectiveDateTime": "garbage", "issued": "2026-11-07"}, date(2026, 11, 7)),
    ],
)
def test_date_sources(terminology: Terminology, dates: dict[str, Any], expected: date) -> None:
    observation = obs("2823-3", 4.0, "mmol/L", when=None, **dates)
    assert labs(terminology, observation).labs["potassium"].when == expected


def test_undated_results_are_used_only_without_a_dated_one(terminology: Terminology) -> None:
    undated = obs("2823-3", 4.2, "mmol/L", when=None, oid="undated")
    alone = labs(terminology, undated)
    assert alone.labs["potassium"].when is None
    assert any("no date" in note for note in alone.notes)
    with_dated = labs(terminology, undated, obs("2823-3", 3.3, "mmol/L", oid="dated"))
    assert with_dated.labs["potassium"].source_id == "Observation/dated"
    assert not any("no date" in note for note in with_dated.notes)


def test_undated_result_does_not_stand_in_for_a_too_old_dated_one(
    terminology: Terminology,
) -> None:
    result = labs(
        terminology,
        obs("2823-3", 4.2, "mmol/L", when=None, oid="undated"),
        obs("2823-3", 3.1, "mmol/L", when="2019-01-01", oid="old"),
    )
    assert result.labs == {}
    assert result.notes == (
        "The latest potassium result (2019-01-01) is older than 365 days and was not used.",
    )


@pytest.mark.parametrize(
    ("when", "used"),
    [("2025-11-25", True), ("2025-11-24", False), ("2026-11-26", True), ("2026-11-27", False)],
)
def test_maximum_age_and_future_dates(terminology: Terminology, when: str, used: bool) -> None:
    result = labs(terminology, obs("2823-3", 4.0, "mmol/L", when=when))
    assert ("potassium" in result.labs) is used
    if not used:
        assert result.notes


def test_old_result_note_names_its_date(terminology: Terminology) -> None:
    result = labs(terminology, obs("2823-3", 4.0, "mmol/L", when="2020-01-02"), max_age_days=30)
    assert result.notes == (
        "The latest potassium result (2020-01-02) is older than 30 days and was not used.",
    )


def test_preferred_egfr_code_wins_on_the_same_date(terminology: Terminology) -> None:
    result = labs(
        terminology,
        obs("33914-3", 55, "mL/min/{1.73_m2}", when="2026-11-01T10:00:00Z", oid="mdrd"),
        obs("98979-8", 58, "mL/min/{1.73_m2}", when="2026-11-01T09:00:00Z", oid="ckdepi"),
        obs("62238-1", 57, "mL/min/{1.73_m2}", when="2026-11-01T11:00:00Z", oid="2009"),
    )
    assert result.labs["egfr"].source_id == "Observation/ckdepi"
    newer = labs(
        terminology,
        obs("98979-8", 58, "mL/min/{1.73_m2}", when="2026-10-01", oid="ckdepi"),
        obs("33914-3", 55, "mL/min/{1.73_m2}", when="2026-11-01", oid="mdrd"),
    )
    assert newer.labs["egfr"].source_id == "Observation/mdrd"  # a later date beats the code


def test_components_carry_values_of_panels(terminology: Terminology) -> None:
    panel = {
        "resourceType": "Observation",
        "id": "bmp",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "51990-0"}]},
        "effectiveDateTime": "2026-11-01",
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "2823-3"}]},
                "valueQuantity": {"value": 3.2, "unit": "mmol/L"},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "2951-2"}]},
                "valueQuantity": {"value": 131, "unit": "mmol/L"},
            },
            {"code": {"coding": [{"system": LOINC, "code": "9999-9"}]}},
        ],
    }
    result = labs(terminology, panel)
    assert result.labs["potassium"].value == 3.2
    assert result.labs["sodium"].value == 131
    assert result.labs["potassium"].source_id == "Observation/bmp"


def test_other_resources_and_junk_are_ignored(terminology: Terminology) -> None:
    junk: list[Any] = [
        None,
        "x",
        3,
        [],
        {"resourceType": "OperationOutcome"},
        {"resourceType": "Medication", "id": "m"},
        {"no": "type"},
    ]
    result = read_labs(views(junk), terminology=terminology, as_of=AS_OF, max_age_days=365)
    assert result == LabReading({}, ())


def test_thousand_observations_are_read_quickly(terminology: Terminology) -> None:
    import time

    many = [
        obs("2823-3", 3.5 + (i % 10) / 10, "mmol/L", when=f"2026-{1 + i % 11:02d}-01", oid=f"o{i}")
        for i in range(1000)
    ]
    started = time.perf_counter()
    result = labs(terminology, *many)
    elapsed = time.perf_counter() - started
    assert result.labs["potassium"].when == date(2026, 11, 1)
    assert elapsed < 0.5, f"1,000 Observations took {elapsed:.3f} s"
