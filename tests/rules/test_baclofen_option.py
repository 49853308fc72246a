"""baclofen-cramp-option (patient-view): the titration suggestion and its guard-rails."""

from __future__ import annotations

import pytest

from cds_service.rules.baclofen_option import RULE_ID
from tests.rules.conftest import cond, egfr, facts, inp, med, run

CRAMPS = (cond("muscle_cramp"),)


def option(patient, hook="patient-view"):
    return run(inp(hook, patient), RULE_ID)


def test_cirrhosis_with_cramps_gets_easl_regimen():
    [finding] = option(facts(age=55, labs=(egfr(80),), conditions=(*CRAMPS, cond("cirrhosis"))))
    assert finding.card_key == "baclofen-option-cirrhosis"
    assert finding.indicator == "info"
    [suggestion] = finding.suggestions
    assert suggestion.kind == "add-baclofen" and suggestion.schedule == "easl-cirrhosis"


def test_idiopathic_cramps_get_the_no_guideline_support_card():
    [finding] = option(facts(age=40, labs=(egfr(95),), conditions=CRAMPS))
    assert finding.card_key == "baclofen-option-idiopathic"
    assert finding.suggestions[0].schedule == "easl-cirrhosis"


def test_only_patient_view():
    patient = facts(conditions=CRAMPS)
    assert option(patient, hook="order-select") == []
    assert option(patient, hook="order-sign") == []


def test_no_card_without_cramps_or_when_already_on_baclofen():
    assert option(facts()) == []
    current = med("baclofen_oral", ref="MedicationRequest/b")
    on_baclofen = facts(conditions=CRAMPS, active=(current,))
    assert option(on_baclofen) == []
    intrathecal = facts(conditions=CRAMPS, active=(med("baclofen_intrathecal"),))
    assert option(intrathecal) == []


@pytest.mark.parametrize(
    ("age", "egfr_value", "key", "schedule"),
    [
        (64, 45, "baclofen-option-idiopathic", "start-low"),  # under 65, eGFR 30-59: start low
        (64, 60, "baclofen-option-idiopathic", "easl-cirrhosis"),
        (65, 60, "baclofen-option-idiopathic", "start-low"),  # 65+, eGFR >= 60: start low
        (65, 59.9, "baclofen-caution", None),  # Beers: avoid
        (80, 20, "baclofen-caution", None),
        (50, 29.9, "baclofen-caution", None),  # under 65, eGFR < 30
        (50, 30, "baclofen-option-idiopathic", "start-low"),
    ],
)
def test_guard_rails(age, egfr_value, key, schedule):
    [finding] = option(facts(age=age, labs=(egfr(egfr_value),), conditions=CRAMPS))
    assert finding.card_key == key
    assert [s.schedule for s in finding.suggestions] == ([schedule] if schedule else [])


def test_older_adult_on_dialysis_gets_caution_warning():
    [finding] = option(facts(age=70, conditions=(*CRAMPS, cond("esrd_dialysis"))))
    assert finding.card_key == "baclofen-caution"
    assert finding.indicator == "warning"
    assert finding.values["older_kidney"] is True and finding.suggestions == ()


def test_older_adult_without_egfr_gets_info_but_no_order():
    [finding] = option(facts(age=70, conditions=CRAMPS))
    assert finding.card_key == "baclofen-option-idiopathic"
    assert finding.values["older_no_egfr"] is True and finding.suggestions == ()


def test_unknown_age_gets_no_order():
    [finding] = option(facts(age=None, labs=(egfr(90),), conditions=CRAMPS))
    assert finding.values["age_unknown"] is True and finding.suggestions == ()


def test_hepatic_encephalopathy_turns_it_into_a_caution():
    conditions = (*CRAMPS, cond("cirrhosis"), cond("hepatic_encephalopathy"))
    [finding] = option(facts(age=50, labs=(egfr(90),), conditions=conditions))
    assert finding.card_key == "baclofen-caution" and finding.values["he"] is True


def test_computed_egfr_is_reported():
    patient = facts(age=50, labs=(egfr(45, derived_from="Observation/cr-2"),), conditions=CRAMPS)
    [finding] = option(patient)
    assert finding.values["egfr_computed"] is True and finding.values["start_low_kidney"] is True


@pytest.mark.parametrize(
    ("age", "fires"),
    [(10, False), (17, False), (18, True), (None, True)],  # unknown age: unchanged (no order)
)
def test_no_baclofen_option_card_under_18(age, fires):
    patient = facts(age=age, labs=(egfr(95),), conditions=CRAMPS)
    assert bool(option(patient)) is fires


@pytest.mark.parametrize("extra", [(cond("cirrhosis"),), (cond("hepatic_encephalopathy"),)])
def test_no_option_or_caution_card_for_a_child(extra):
    assert option(facts(age=12, labs=(egfr(20),), conditions=(*CRAMPS, *extra))) == []


def test_child_still_gets_the_cramp_workup():
    findings = run(inp("patient-view", facts(age=10, conditions=CRAMPS)))
    [workup] = [f for f in findings if f.rule_id == "cramp-workup"]
    assert workup.values["child"] is True
    assert not any(f.rule_id == RULE_ID for f in findings)


def test_age_18_gets_the_adult_schedule():
    [finding] = option(facts(age=18, labs=(egfr(95),), conditions=CRAMPS))
    assert finding.suggestions[0].schedule == "easl-cirrhosis"


@pytest.mark.parametrize(("age", "swap"), [(17, False), (18, True)])
def test_no_baclofen_swap_on_drug_cards_for_a_child(age, swap):
    patient = facts(age=age, labs=(egfr(95),), conditions=CRAMPS)
    [finding] = run(inp("order-select", patient, med("quinine")), "quinine-for-cramps")
    kinds = [s.kind for s in finding.suggestions]
    assert ("replace-with-baclofen" in kinds) is swap
    assert finding.values["baclofen_offer"] is swap
