"""cramp-workup: only the missing labs, from a cramp condition or an order for cramps."""

from __future__ import annotations

from cds_service.rules.cramp_workup import RULE_ID
from tests.rules.conftest import all_labs, cond, facts, inp, lab, med, run

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
