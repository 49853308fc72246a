"""skeletal-muscle-relaxant: Beers in 65+; cyclobenzaprine-for-cramps under 65."""

from __future__ import annotations

import pytest

from cds_service.rules.muscle_relaxant import RULE_ID
from tests.rules.conftest import all_labs, cond, egfr, facts, inp, keys, med, run

CRAMPS = (cond("muscle_cramp"),)


@pytest.mark.parametrize(("age", "expected"), [(64, []), (65, ["muscle-relaxant-older-adult"])])
def test_cyclobenzaprine_for_back_pain_fires_only_from_65(age, expected):
    order = med("cyclobenzaprine", reasons=("low_back_pain_or_spasm",))
    assert keys(run(inp("order-sign", facts(age=age), order), RULE_ID)) == expected


def test_older_adult_card_fires_regardless_of_indication_without_baclofen_swap():
    order = med("cyclobenzaprine", reasons=("low_back_pain_or_spasm",))
    [finding] = run(inp("order-sign", facts(age=80, labs=(egfr(80),)), order), RULE_ID)
    assert finding.values["for_cramps"] is False
    assert [s.kind for s in finding.suggestions] == ["remove-order"]


def test_older_adult_for_cramps_in_cirrhosis_offers_low_start_baclofen():
    order = med("cyclobenzaprine", reasons=("muscle_cramp",))
    patient = facts(age=70, labs=all_labs(egfr=75), conditions=(*CRAMPS, cond("cirrhosis")))
    [finding] = run(inp("order-sign", patient, order), RULE_ID)
    assert finding.values["for_cramps"] is True
    assert finding.suggestions[1].schedule == "start-low"


def test_older_adult_for_idiopathic_cramps_offers_only_removal():
    """No guideline supports baclofen outside cirrhosis: no one-click order (issue 10 item 3)."""
    order = med("cyclobenzaprine", reasons=("muscle_cramp",))
    patient = facts(age=70, labs=all_labs(egfr=75), conditions=CRAMPS)
    [finding] = run(inp("order-sign", patient, order), RULE_ID)
    assert [s.kind for s in finding.suggestions] == ["remove-order"]
    assert finding.values["baclofen_offer"] is False


def test_older_adult_in_hospice_gets_no_beers_card():
    """Beers 2023 excludes hospice and end-of-life care (its own scope)."""
    order = med("cyclobenzaprine", display="cyclobenzaprine 5 MG")
    hospice = facts(age=84, conditions=(cond("palliative_or_hospice_care"),))
    assert run(inp("order-sign", hospice, order), RULE_ID) == []
    stated = med("cyclobenzaprine", has_reason=True, text=("palliative_or_hospice_care",))
    assert run(inp("order-sign", facts(age=84), stated), RULE_ID) == []
    assert keys(run(inp("order-sign", facts(age=84), order), RULE_ID)) == [
        "muscle-relaxant-older-adult"
    ]


def test_other_muscle_relaxant_in_older_adult_uses_the_same_beers_card():
    order = med("other_muscle_relaxant", display="methocarbamol 500 MG Oral Tablet")
    assert keys(run(inp("order-sign", facts(age=66), order), RULE_ID)) == [
        "muscle-relaxant-older-adult"
    ]


def test_other_muscle_relaxant_under_65_is_silent_even_for_cramps():
    order = med("other_muscle_relaxant", reasons=("muscle_cramp",))
    assert run(inp("order-sign", facts(age=40), order), RULE_ID) == []


def test_cyclobenzaprine_for_cramps_under_65_warns():
    patient = facts(age=64, conditions=CRAMPS)
    assert keys(run(inp("order-select", patient, med("cyclobenzaprine")), RULE_ID)) == [
        "cyclobenzaprine-for-cramps"
    ]


def test_cyclobenzaprine_without_cramp_link_under_65_is_silent():
    assert run(inp("order-select", facts(age=30), med("cyclobenzaprine")), RULE_ID) == []


def test_unknown_age_is_judged_on_indication_only():
    patient = facts(age=None, conditions=CRAMPS)
    assert keys(run(inp("order-sign", patient, med("cyclobenzaprine")), RULE_ID)) == [
        "cyclobenzaprine-for-cramps"
    ]


def test_patient_view_active_cyclobenzaprine_in_older_adult():
    active = med("cyclobenzaprine", ref="MedicationRequest/a1")
    [finding] = run(inp("patient-view", facts(age=72, active=(active,))), RULE_ID)
    assert finding.suggestions == ()
