"""cramp-workup: abnormal results first (the secondary-cause cards), else the missing labs;
from a cramp condition or an order for cramps."""

from __future__ import annotations

import dataclasses

import pytest

from cds_service.clinical.types import LabValue
from cds_service.rules.cramp_workup import RULE_ID
from tests.rules.conftest import LAB_DAY, all_labs, cond, facts, inp, lab, med, run

CRAMPS = (cond("muscle_cramp"),)


def test_patient_view_suggests_only_missing_labs():
    patient = facts(conditions=CRAMPS, labs=(lab("magnesium", 0.8), lab("potassium", 4.0)))
    [finding] = run(inp("patient-view", patient), RULE_ID)
    assert finding.values["missing"] == ("calcium", "creatine_kinase", "tsh")
    assert finding.suggestions[0].labs == ("calcium", "creatine_kinase", "tsh")


def test_silent_when_all_labs_are_on_file():
    assert run(inp("patient-view", facts(conditions=CRAMPS, labs=all_labs())), RULE_ID) == []


def test_silent_without_cramps_in_patient_view():
    assert run(inp("patient-view", facts()), RULE_ID) == []


def test_order_hook_fires_for_an_order_for_cramps():
    [finding] = run(inp("order-select", facts(), med("quinine", mentions_cramp=True)), RULE_ID)
    assert finding.values["ordered"] is True
    assert finding.values["trigger"] == "quinine product"


def test_order_hook_ignores_unselected_and_unrelated_orders():
    patient = facts(conditions=CRAMPS)
    assert run(inp("order-select", patient, med("quinine", selected=False)), RULE_ID) == []
    assert run(inp("order-select", patient, med("diuretic")), RULE_ID) == []


def test_child_and_22q11_flags():
    conditions = (*CRAMPS, cond("22q11_2_deletion"), cond("juvenile_idiopathic_arthritis"))
    [finding] = run(inp("patient-view", facts(age=9, conditions=conditions)), RULE_ID)
    assert finding.values["child"] and finding.values["del22q11"] and finding.values["jia"]


def test_lab_already_offered_by_a_warning_is_not_offered_twice():
    patient = facts(conditions=CRAMPS, labs=(lab("egfr", 90),))
    findings = run(inp("order-select", patient, med("magnesium_supplement")))
    check = next(f for f in findings if f.card_key == "magnesium-check-levels")
    workup = next(f for f in findings if f.rule_id == RULE_ID)
    assert check.suggestions[0].labs == ("magnesium", "potassium")
    assert workup.suggestions[0].labs == ("calcium", "creatine_kinase", "tsh")
    assert workup.values["missing"] == (
        "magnesium",
        "potassium",
        "calcium",
        "creatine_kinase",
        "tsh",
    )


# -- abnormal results: the cramps look secondary (§11.2) -----------------------------------


def secondary(labs, hook="patient-view", orders=(), **kwargs):
    kwargs.setdefault("conditions", CRAMPS)
    found = run(inp(hook, facts(labs=labs, **kwargs), *orders), RULE_ID)
    return found[0] if found else None


@pytest.mark.parametrize(
    ("overrides", "flag"),
    [
        ({"potassium": 3.2}, "electrolytes"),
        ({"magnesium": 0.62}, "electrolytes"),
        ({"calcium": 2.0}, "calcium_low"),
        ({"creatine_kinase": 650}, "ck_high"),
        ({"tsh": 8.2}, "tsh_high"),
        ({"tsh": 0.1}, "tsh_low"),
    ],
)
def test_an_abnormal_result_makes_the_secondary_cause_card(overrides, flag):
    finding = secondary(all_labs(**overrides))
    assert (finding.card_key, finding.indicator) == ("cramp-secondary-cause", "info")
    assert finding.values[flag] is True
    assert finding.values["abnormal"] and finding.suggestions == ()


@pytest.mark.parametrize(
    "overrides",
    [
        {"potassium": 3.5},  # at the cut-off: not low
        {"magnesium": 0.70},
        {"calcium": 2.12},
        {"creatine_kinase": 200},
        {"tsh": 4.5},
        {"tsh": 0.4},
        {"potassium": 5.6},  # high potassium is not a cramp cause this card names
    ],
)
def test_borderline_results_are_normal(overrides):
    assert secondary(all_labs(**overrides)) is None


def test_the_labs_own_flag_decides_before_the_cut_off():
    labs = tuple(
        lab(a.analyte, a.value, interpretation="low" if a.analyte == "calcium" else None)
        for a in all_labs(calcium=2.3)
    )
    assert secondary(labs).values["calcium_low"] is True
    labs = tuple(
        lab(a.analyte, a.value, interpretation="normal" if a.analyte == "tsh" else None)
        for a in all_labs(tsh=5.0)
    )
    assert secondary(labs) is None


def test_ionized_calcium_has_its_own_lower_limit():
    ionized = LabValue("calcium", 1.15, None, LAB_DAY, "1.15 mmol/L", "Observation/ica", "1994-3",
                       ionized=True)  # fmt: skip
    labs = (*[x for x in all_labs() if x.analyte != "calcium"], ionized)
    assert secondary(labs) is None  # 1.15 is a normal ionized calcium
    low = dataclasses.replace(ionized, value=1.05)
    assert secondary((*labs[:-1], low)).values["calcium_low"] is True


def test_low_potassium_names_the_active_diuretics():
    furosemide = med("diuretic", ref="MedicationRequest/f", display="furosemide 40 MG")
    finding = secondary(all_labs(potassium=3.1), active=(furosemide,))
    assert finding.values["diuretics"] == ("furosemide 40 MG",)


def test_high_ck_with_a_statin_names_it():
    statin = med("statin", ref="MedicationRequest/s", display="atorvastatin 40 MG")
    finding = secondary(all_labs(creatine_kinase=900), active=(statin,))
    assert finding.values["statins"] == ("atorvastatin 40 MG",)
    assert finding.values["ck_multiple"] == pytest.approx(4.5)


@pytest.mark.parametrize(
    ("overrides", "urgent"),
    [
        ({"potassium": 2.9}, True),
        ({"potassium": 3.0}, False),
        ({"magnesium": 0.45}, True),
        ({"magnesium": 0.5}, False),
        ({"creatine_kinase": 2000}, True),  # 10x the 200 U/L default upper limit
        ({"creatine_kinase": 1999}, False),
    ],
)
def test_urgent_when_markedly_abnormal(overrides, urgent):
    finding = secondary(all_labs(**overrides))
    expected = "cramp-secondary-cause-urgent" if urgent else "cramp-secondary-cause"
    assert finding.card_key == expected


def test_ck_multiple_uses_the_labs_own_upper_limit():
    ck = dataclasses.replace(lab("creatine_kinase", 1500), reference_high=120.0, interpretation="high")
    labs = (*[x for x in all_labs() if x.analyte != "creatine_kinase"], ck)
    finding = secondary(labs)
    assert finding.card_key == "cramp-secondary-cause-urgent"
    assert finding.values["ck_multiple"] == pytest.approx(12.5)


def test_missing_labs_are_offered_on_the_secondary_card_too():
    finding = secondary((lab("potassium", 3.1),))
    assert finding.values["missing"] == ("magnesium", "calcium", "creatine_kinase", "tsh")
    assert finding.suggestions[0].labs == finding.values["missing"]


def test_order_hook_for_cramps_also_checks_abnormal_results():
    order = med("quinine", mentions_cramp=True)
    finding = secondary(all_labs(tsh=9.0), hook="order-sign", orders=(order,), conditions=())
    assert finding.values["ordered"] and finding.values["tsh_high"]


def test_no_cramps_no_card_whatever_the_results():
    assert secondary(all_labs(potassium=2.5), conditions=()) is None
