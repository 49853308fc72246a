"""Medication orders -> Medication: coded, contained, referenced, multi-ingredient, dosed."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cds_service.clinical.medications import read_medication, read_medications
from cds_service.clinical.terminology import Terminology
from cds_service.clinical.types import Medication
from tests.clinical.conftest import (
    ICD10CM,
    RXNORM,
    SNOMED,
    bundle_resources,
    fhir_file,
    med_request,
    of_type,
)


def read(
    terminology: Terminology, order: dict[str, Any], index: dict[str, dict[str, Any]] | None = None
) -> Medication:
    med = read_medication(order, terminology=terminology, medication_index=index or {})
    assert med is not None
    return med


def test_coded_order(terminology: Terminology) -> None:
    order = med_request(
        rxnorm="197391",
        display="baclofen 10 MG Oral Tablet",
        authoredOn="2026-11-01T10:00:00Z",
        dosageInstruction=[
            {
                "sequence": 2,
                "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet"}}],
                "timing": {"code": {"text": "TID"}},
            },
            {
                "sequence": 1,
                "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}],
                "timing": {"code": {"text": "TID"}},
                "route": {"text": "Oral route"},
            },
        ],
    )
    med = read(terminology, order)
    assert med.reference == "MedicationRequest/mr1"
    assert (med.resource_type, med.status) == ("MedicationRequest", "active")
    assert med.display == "baclofen 10 MG Oral Tablet"
    assert med.groups == {"baclofen_oral"}
    assert med.matched_by == "rxnorm:197391"
    assert med.rxnorm == ("197391",)
    assert med.route == "oral"
    assert med.daily_doses_mg == (15.0, 60.0)  # sequence order, not array order
    assert med.authored == date(2026, 11, 1)
    assert not med.selected and not med.mentions_cramp


@pytest.mark.parametrize(
    ("extra", "mentions"),
    [
        ({"reasonCode": [{"text": "Nocturnal leg cramps"}]}, True),
        (
            {
                "reasonCode": {
                    "coding": [{"system": ICD10CM, "code": "R25.2", "display": "Cramp and spasm"}]
                }
            },
            True,
        ),  # noqa: E501
        ({"dosageInstruction": [{"text": "1 tab qhs for cramping"}]}, True),
        ({"dosageInstruction": [{"patientInstruction": "for leg CRAMPS"}]}, True),
        ({"note": [{"text": "patient reports cramps at night"}]}, True),
        ({"note": "cramp"}, True),  # DSTU2 string note
        ({"note": [{"text": "scramped"}]}, False),  # not the word
        ({"reasonCode": [{"text": "muscle spasm"}]}, False),
        ({"reasonCode": [{"text": "denies leg cramps"}]}, False),  # negated
        ({"note": [{"text": "No cramps. Take at night."}]}, False),
        ({"dosageInstruction": [{"text": "1 tab qhs; leg cramps resolved"}]}, False),
        ({"note": [{"text": "no fever, but calf cramps at night"}]}, True),
    ],
)
def test_mentions_cramp(terminology: Terminology, extra: dict[str, Any], mentions: bool) -> None:
    assert read(terminology, med_request(rxnorm="197391", **extra)).mentions_cramp is mentions


@pytest.mark.parametrize(
    ("extra", "groups"),
    [
        ({"reasonCode": [{"text": "Malaria prophylaxis"}]}, {"malaria"}),
        ({"note": [{"text": "CIWA protocol, alcohol withdrawal"}]},
         {"alcohol_or_benzodiazepine_withdrawal"}),
        ({"dosageInstruction": [{"text": "2 mg IV once, pre-op sedation"}]}, {"procedure"}),
        ({"note": "hospice patient"}, {"palliative_or_hospice_care"}),  # DSTU2 string note
        ({"note": [{"text": "no seizures"}]}, set()),
        # a reason coding's display is the order's words too (a local code we do not know)
        ({"reasonCode": [{"coding": [{"system": "urn:local", "code": "9", "display": "Eclampsia"}]}]},
         {"pre_eclampsia_eclampsia"}),
    ],
)  # fmt: skip
def test_text_groups_are_what_the_orders_words_affirm(
    terminology: Terminology, extra: dict[str, Any], groups: set[str]
) -> None:
    assert read(terminology, med_request(rxnorm="197391", **extra)).text_groups == groups


def test_the_drug_name_is_not_an_indication(terminology: Terminology) -> None:
    """Only the order's own words state what it is for, never the product name."""
    order = med_request(display="midazolam 5 MG/ML Injectable Solution [Seizalam]")
    assert read(terminology, order).text_groups == frozenset()


@pytest.mark.parametrize(
    ("text", "groups"),
    [("Tonic water 200 mL at bedtime", set()), ("quinine sulfate 324 mg", {"quinine"})],
)
def test_tonic_water_is_a_drink_not_quinine(
    terminology: Terminology, text: str, groups: set[str]
) -> None:
    assert read(terminology, med_request(text=text)).groups == groups
    assert read(terminology, med_request(text="tonic water with quinine")).groups == frozenset()


def test_mentions_cramp_in_the_medication_name(terminology: Terminology) -> None:
    order = med_request(
        rxnorm="723739", display="magnesium oxide 500 MG Oral Tablet [Phillips' Cramp-free]"
    )
    assert read(terminology, order).mentions_cramp


def test_reason_groups_from_reason_codes(terminology: Terminology) -> None:
    order = med_request(
        rxnorm="997010",
        reasonCode=[
            {"coding": [{"system": ICD10CM, "code": "B50.9"}]},
            {"coding": [{"system": SNOMED, "code": "55300003"}]},
        ],
    )
    assert read(terminology, order).reason_groups == {"malaria", "muscle_cramp"}
    single = med_request(
        rxnorm="997010", reasonCode={"coding": [{"system": ICD10CM, "code": "B54"}]}
    )
    assert read(terminology, single).reason_groups == {"malaria"}  # an object, as the sandbox sends


SPASTICITY = {"coding": [{"system": SNOMED, "code": "221360009", "display": "Spasticity"}]}


@pytest.mark.parametrize(
    ("extra", "has_reason"),
    [
        ({}, False),
        ({"reasonCode": [SPASTICITY]}, True),  # a code no group knows is still a reason
        ({"reasonCode": SPASTICITY}, True),  # a lone object, as the sandbox sends
        ({"reasonCode": [{"text": "restless sleep"}]}, True),
        ({"reasonCode": [{"coding": [{"system": SNOMED, "code": "55300003"}]}]}, True),
        ({"reasonReference": [{"reference": "Condition/c1"}]}, True),
        ({"reasonReference": {"display": "Multiple sclerosis"}}, True),  # lone object
        ({"reasonCode": [{}], "reasonReference": [{}]}, False),  # empty: nothing stated
        ({"reasonCode": [{"coding": [{"system": SNOMED}]}]}, False),
        ({"reasonCode": "spasticity", "reasonReference": 3}, False),  # malformed
    ],
)
def test_has_reason(terminology: Terminology, extra: dict[str, Any], has_reason: bool) -> None:
    order = med_request(rxnorm="197391", **extra)
    assert read(terminology, order).has_reason is has_reason


def test_dstu2_reason_reference_is_a_reason(terminology: Terminology) -> None:
    order = {
        "resourceType": "MedicationOrder",
        "id": "mo2",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "197391"}]},
        "reasonReference": {"reference": "Condition/ms"},
    }
    med = read(terminology, order)
    assert med.has_reason is True and med.reason_groups == frozenset()


def test_contained_medication(terminology: Terminology) -> None:
    med = read(terminology, fhir_file("medicationrequest-contained-oral-axid"))
    assert med.display == "Nizatidine 15 MG/ML Oral Solution [Axid]"
    assert med.groups == frozenset() and med.matched_by is None  # not in any group
    assert med.rxnorm == ("582620",)
    assert med.route == "oral"
    assert med.daily_doses_mg == (300.0,)  # 10 mL bid x 15 mg/mL


def test_referenced_medication_resolved_through_the_index(terminology: Terminology) -> None:
    order = fhir_file("medicationrequest-referenced-oral-axid")
    index = {"Medication/uscore-med2": fhir_file("uscore-med2")}
    med = read(terminology, order, index)
    assert med.rxnorm == ("582620",) and med.groups == frozenset()
    assert med.daily_doses_mg == (300.0,)
    unresolved = read(terminology, order)
    assert unresolved.display == "Nizatidine 15 MG/ML Oral Solution [Axid]"  # reference display
    assert unresolved.rxnorm == ()
    assert unresolved.daily_doses_mg == (300.0,)  # strength read from the display text


@pytest.mark.parametrize(
    "reference",
    ["Medication/m1", "Medication/m1/_history/3", "https://ehr.example.org/fhir/Medication/m1"],
)
def test_reference_forms(terminology: Terminology, reference: str) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"coding": [{"system": RXNORM, "code": "828348"}]},
    }
    order = {
        "resourceType": "MedicationRequest",
        "id": "r",
        "status": "active",
        "medicationReference": {"reference": reference},
    }
    assert read(terminology, order, {"Medication/m1": medication}).groups == {"cyclobenzaprine"}


def test_unresolvable_reference_uses_its_display(terminology: Terminology) -> None:
    med = read(terminology, fhir_file("MedicationRequest-medrx002"))
    assert med.display == "prescribed medication"
    assert med.groups == frozenset() and med.rxnorm == ()
    assert med.reason_groups == frozenset()  # essential hypertension: no group
    assert med.daily_doses_mg == ()  # "one tablet daily as directed": no timing, no strength
    named = {
        "resourceType": "MedicationRequest",
        "medicationReference": {
            "reference": "Medication/gone",
            "display": "Quinine sulfate 324 mg",
        },
    }
    assert read(terminology, named).groups == {"quinine"}


def test_contained_multi_ingredient_tpn_is_magnesium_containing(terminology: Terminology) -> None:
    med = read(terminology, fhir_file("MedicationRequest-medrx0323"))
    assert "magnesium_containing" in med.groups
    assert "potassium_containing" in med.groups
    assert not med.groups & {"magnesium_supplement", "potassium_supplement"}
    assert med.status == "completed"
    assert med.route == "injection"  # dosage route "Intravenous"
    assert med.daily_doses_mg == ()  # 1000 mL of a mixture: no mg
    assert "TPN Electrolytes" in med.display


def test_multi_ingredient_coded_medication(terminology: Terminology) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "mix",
        "ingredient": [
            {"itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "6585"}]}},  # MgSO4
            {"itemCodeableConcept": {"text": "dextrose 5%"}},
        ],
    }
    order = {
        "resourceType": "MedicationRequest",
        "id": "r",
        "contained": [medication],
        "medicationReference": {"reference": "#mix"},
    }
    assert read(terminology, order).groups == {"magnesium_containing"}


def test_stu3_smart_cyclobenzaprine_orders(terminology: Terminology) -> None:
    orders = of_type(bundle_resources("patient-1768562"), "MedicationRequest")
    meds = {
        m.reference: m
        for m in read_medications(orders, terminology=terminology, medication_index={})
    }
    carl = meds["MedicationRequest/smart-MedicationRequest-202"]
    assert carl.groups == {"cyclobenzaprine"} and carl.matched_by == "rxnorm:828348"
    assert carl.daily_doses_mg == (30.0,)  # 1 tablet tid x 10 mg (STU3 doseQuantity)
    assert meds["MedicationRequest/smart-MedicationRequest-207"].groups == {"diuretic"}

    orders = of_type(bundle_resources("patient-5555002"), "MedicationRequest")
    meds = {
        m.reference: m
        for m in read_medications(orders, terminology=terminology, medication_index={})
    }
    michael = meds["MedicationRequest/smart-MedicationRequest-333"]
    assert michael.display == "Cyclobenzaprine Tablet 10mg"
    assert michael.groups == {"cyclobenzaprine"} and michael.daily_doses_mg == (10.0,)
    uncoded = dict(orders[0])
    uncoded["medicationCodeableConcept"] = {"text": "Cyclobenzaprine Tablet 10mg"}
    by_text = read(terminology, uncoded)
    assert by_text.matched_by == "text:cyclobenzaprine"


def test_synthea_text_only_diuretics(terminology: Terminology) -> None:
    isaiah = of_type(bundle_resources("Isaiah_Schaden"), "MedicationRequest")
    meds = read_medications(isaiah, terminology=terminology, medication_index={})
    hctz = [m for m in meds if "diuretic" in m.groups]
    assert [m.matched_by for m in hctz] == ["text:hydrochlorothiazide"]  # 316049 is not an SCD
    martina = of_type(bundle_resources("Martina_Murazik"), "MedicationRequest")
    meds = read_medications(martina, terminology=terminology, medication_index={})
    assert [m.display for m in meds if "diuretic" in m.groups] == ["Lasix 40mg"]


def test_dstu2_medication_order(terminology: Terminology) -> None:
    order = {
        "resourceType": "MedicationOrder",
        "id": "mo1",
        "status": "active",
        "dateWritten": "2015-02-03",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "197391"}]},
        "reasonCodeableConcept": {"coding": [{"system": ICD10CM, "code": "K74.60"}]},
        "dosageInstruction": [
            {
                "doseQuantity": {"value": 1, "unit": "tablet"},
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            }
        ],
    }
    med = read(terminology, order)
    assert (med.reference, med.resource_type) == ("MedicationOrder/mo1", "MedicationOrder")
    assert med.authored == date(2015, 2, 3)
    assert med.reason_groups == {"cirrhosis"}
    assert med.has_reason is True  # reasonCodeableConcept
    assert med.daily_doses_mg == (10.0,)


@pytest.mark.parametrize(
    "order",
    [
        {"resourceType": "MedicationRequest"},
        {
            "resourceType": "MedicationRequest",
            "id": 5,
            "medicationCodeableConcept": "x",
            "dosageInstruction": "y",
            "reasonCode": 3,
            "contained": "z",
            "authoredOn": 1,
        },
        {"resourceType": "MedicationRequest", "medicationReference": {"reference": "#missing"}},
        {"resourceType": "MedicationRequest", "medicationReference": "Medication/1"},
    ],
)
def test_an_order_that_names_no_drug_is_not_an_order(
    terminology: Terminology, order: dict[str, Any]
) -> None:
    """The sandbox's Rx form fires order-select before a drug is picked (checklist §14): such
    a draft, and malformed ones naming nothing, never become a Medication (no order card)."""
    assert read_medication(order, terminology=terminology, medication_index={}) is None


def test_an_order_named_only_in_words_still_reads(terminology: Terminology) -> None:
    med = read(terminology, {"resourceType": "MedicationRequest",
                             "medicationCodeableConcept": {"text": "tonic"}})  # fmt: skip
    assert med.display == "tonic" and med.groups == frozenset()


def test_other_resources_are_not_medications(terminology: Terminology) -> None:
    assert (
        read_medication(
            {"resourceType": "Medication"}, terminology=terminology, medication_index={}
        )
        is None
    )
    meds = read_medications(
        [None, "x", {"resourceType": "Medication"}, med_request(rxnorm="828348")],
        terminology=terminology,
        medication_index={},
    )
    assert len(meds) == 1
