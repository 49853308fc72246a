"""The scenario format's newer keys: `clinician:` text, a lab's `ref_low`/`ref_high`
(referenceRange) and an order's `note` and `route` build real FHIR that the service reads as
intended; `offers_drug` / `offers_removal` / `no_drug_offer` judge what a card offers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from cds_service.clinical.labs import read_labs
from cds_service.clinical.medications import read_medication
from cds_service.clinical.terminology import get_terminology
from cds_service.tools import shorthand
from cds_service.tools.expectations import compare
from cds_service.tools.outcome import Observed, SeenCard, offers
from cds_service.tools.scenario_model import CardExpect, Expect, LabShort, OrderShort, Scenario
from cds_service.tools.scenarios import load_file
from tests.builders import views
from tests.conftest import FIXTURES

AS_OF = dt.date(2026, 12, 4)
BASE: dict[str, Any] = {
    "name": "format-probe",
    "description": "probe",
    "source": "synthetic",
    "hook": "patient-view",
    "as_of": AS_OF,
    "patient": {"age": 70},
    "expect": {},
}


def _lab(**fields: Any) -> dict[str, Any]:
    return shorthand.lab(LabShort(**fields), "pat-1", AS_OF, 1)


def _interpretation(observation: dict[str, Any]) -> str | None:
    reading = read_labs(
        views([observation]), terminology=get_terminology(), as_of=AS_OF, max_age_days=365
    )
    (result,) = reading.labs.values()
    return result.interpretation


def test_clinician_text_is_kept_and_must_say_something() -> None:
    said = "Expect the quinine warning."
    assert Scenario.model_validate({**BASE, "clinician": said}).clinician == said
    assert Scenario.model_validate(BASE).clinician is None
    with pytest.raises(ValidationError, match="clinician"):
        Scenario.model_validate({**BASE, "clinician": "  "})


def test_reference_range_is_in_the_labs_own_unit() -> None:
    obs = _lab(code="19123-9", value=1.75, unit="mg/dL", ref_low=1.8, ref_high=2.6)
    (limits,) = obs["referenceRange"]
    assert limits["low"] == {"value": 1.8, "unit": "mg/dL", "system": shorthand.UCUM,
                             "code": "mg/dL"}  # fmt: skip
    assert limits["high"]["value"] == 2.6 and limits["high"]["unit"] == "mg/dL"
    assert "interpretation" not in obs  # a range is not a flag


def test_reference_range_without_ucum_and_with_one_limit() -> None:
    obs = _lab(code="2823-3", value=5.4, unit="mmol/L", ucum=False, ref_high=5.1)
    (limits,) = obs["referenceRange"]
    assert limits == {"high": {"value": 5.1, "unit": "mmol/L"}}


def test_comparator_stays_on_the_value_not_the_range() -> None:
    obs = _lab(code="98979-8", value=90, unit="mL/min/{1.73_m2}", comparator=">", ref_low=60)
    assert obs["valueQuantity"]["comparator"] == ">"
    assert "comparator" not in obs["referenceRange"][0]["low"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.75, "low"), (1.8, "normal"), (2.6, "normal"), (2.7, "high")],
)
def test_the_service_judges_a_value_against_the_built_range(value: float, expected: str) -> None:
    """1.75 mg/dL is above the fixed 1.7 mg/dL cut-off but below this lab's 1.8: low."""
    obs = _lab(code="19123-9", value=value, unit="mg/dL", ref_low=1.8, ref_high=2.6)
    assert _interpretation(obs) == expected


def test_a_flag_and_no_range() -> None:
    assert _interpretation(_lab(code="2823-3", value=5.8, unit="mmol/L", interpretation="H")) == (
        "high"
    )
    assert _interpretation(_lab(code="2823-3", value=5.8, unit="mmol/L")) is None


def test_reversed_range_is_refused() -> None:
    with pytest.raises(ValidationError, match="ref_low is above ref_high"):
        LabShort(code="2823-3", value=4.0, unit="mmol/L", ref_low=5.0, ref_high=3.5)


def _order(**fields: Any) -> dict[str, Any]:
    return shorthand.medication_request(OrderShort(**fields), "pat-1", 1, default_status="draft")


def test_note_becomes_medicationrequest_note() -> None:
    order = _order(rxnorm="197901", display="lorazepam 1 MG Oral Tablet",
                   note="CIWA protocol: alcohol withdrawal")  # fmt: skip
    assert order["note"] == [{"text": "CIWA protocol: alcohol withdrawal"}]
    assert "dosageInstruction" not in order


def test_route_alone_makes_a_dosage_with_the_route() -> None:
    order = _order(rxnorm="6585", display="magnesium sulfate", route="intravenous")
    assert order["dosageInstruction"] == [{"route": {"text": "intravenous"}}]
    med = read_medication(order, terminology=get_terminology(), medication_index={})
    assert med is not None and med.route == "injection"


def test_route_goes_on_every_step_and_next_to_dose_and_text() -> None:
    steps = _order(rxnorm="1292", display="baclofen", route="oral",
                   steps=[{"dose_mg": 5, "per_day": 2, "days": 7}, {"dose_mg": 10, "per_day": 2}])  # fmt: skip
    assert [d["route"] for d in steps["dosageInstruction"]] == [{"text": "oral"}] * 2
    assert [d["sequence"] for d in steps["dosageInstruction"]] == [1, 2]
    single = _order(rxnorm="1292", display="baclofen", dose_mg=5, per_day=3,
                    dosage_text="5 mg three times daily", route="intrathecal")  # fmt: skip
    (dosage,) = single["dosageInstruction"]
    assert dosage["text"] == "5 mg three times daily" and dosage["route"] == {"text": "intrathecal"}
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 5
    med = read_medication(single, terminology=get_terminology(), medication_index={})
    assert med is not None and "baclofen_intrathecal" in med.groups


def test_take_refuses_a_route_or_note() -> None:
    with pytest.raises(ValidationError, match="take"):
        OrderShort(take="MedicationRequest/med-1", route="oral")
    with pytest.raises(ValidationError, match="take"):
        OrderShort(take="MedicationRequest/med-1", note="renewal")


def _seen(drugs: int, removals: int) -> SeenCard:
    return SeenCard("quinine-for-cramps", "quinine-for-cramps", "warning", "s", "d",
                    suggestions=drugs + removals, drug_offers=drugs, removals=removals)  # fmt: skip


def test_offers_counts_drug_orders_and_removals_in_card_json() -> None:
    replace = {"label": "Replace", "actions": [
        {"type": "delete", "description": "x", "resourceId": "MedicationRequest/d1"},
        {"type": "create", "description": "y", "resource": {"resourceType": "MedicationRequest"}},
    ]}  # fmt: skip
    labs = {"label": "Order labs", "actions": [
        {"type": "create", "description": "z", "resource": {"resourceType": "ServiceRequest"}},
    ]}  # fmt: skip
    assert offers([replace, labs]) == (1, 1)
    assert offers([labs]) == (0, 0)
    assert offers(None) == (0, 0) and offers([{"actions": "junk"}, "junk"]) == (0, 0)


@pytest.mark.parametrize(
    ("want", "seen", "ok"),
    [
        ({"offers_drug": False}, _seen(0, 1), True),
        ({"offers_drug": False}, _seen(1, 1), False),
        ({"offers_drug": True}, _seen(1, 0), True),
        ({"offers_removal": True}, _seen(0, 1), True),
        ({"offers_removal": True}, _seen(1, 0), False),
    ],
)
def test_card_offer_expectations(want: dict[str, bool], seen: SeenCard, ok: bool) -> None:
    expect = Expect(cards=[CardExpect(card="quinine-for-cramps", **want)])
    assert (compare(expect, Observed(200, (seen,))) == []) is ok


def test_no_drug_offer_anywhere_in_the_answer() -> None:
    expect = Expect(no_drug_offer=True)
    assert compare(expect, Observed(200, (_seen(0, 1),))) == []
    (reason,) = compare(expect, Observed(200, (_seen(0, 1), _seen(1, 0))))
    assert reason.startswith("offers a one-click drug order")


def test_max_cards_is_the_alert_budget() -> None:
    three = (_seen(0, 0),) * 3
    assert compare(Expect(max_cards=3), Observed(200, three)) == []
    (reason,) = compare(Expect(max_cards=2), Observed(200, three))
    assert reason.startswith("3 cards, at most 2")


def test_a_key_given_twice_is_an_error(tmp_path: Path) -> None:
    """YAML keeps the last of two equal keys; a second `expect:` must not silently win."""
    file = tmp_path / "twice.yaml"
    file.write_text(
        "- name: twice\n  description: d\n  source: s\n  hook: patient-view\n"
        "  as_of: 2026-12-01\n  patient: {age: 70}\n"
        "  expect: {exact: true}\n  expect: {}\n"
    )
    with pytest.raises(yaml.YAMLError, match="'expect' given twice"):
        load_file(file)


CLINICAL_REVIEW = FIXTURES / "scenarios" / "clinical-review"


@pytest.mark.parametrize("file", sorted(CLINICAL_REVIEW.glob("*.yaml")), ids=lambda p: p.name)
def test_every_clinical_review_scenario_says_what_a_clinician_expects(file: Path) -> None:
    items = yaml.safe_load(file.read_text(encoding="utf-8"))
    assert isinstance(items, list) and items
    for item in items:
        assert str(item.get("clinician") or "").strip(), f"{item.get('name')}: no clinician:"
        assert str(item.get("name", "")).startswith("cr-"), item.get("name")
