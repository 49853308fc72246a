"""quinidine-not-for-cramps: a separate, lower-key card; Nuedexta never fires."""

from __future__ import annotations

from cds_service.rules.quinidine import RULE_ID
from tests.rules.conftest import cond, facts, inp, med, run

CRAMPS = (cond("muscle_cramp"),)


def test_quinidine_for_cramps_warns_with_its_own_card():
    [finding] = run(inp("order-select", facts(conditions=CRAMPS), med("quinidine")), RULE_ID)
    assert finding.card_key == "quinidine-not-for-cramps"
    assert finding.indicator == "warning"
    assert finding.suggestions[0].kind == "remove-order"


def test_quinidine_never_fires_the_quinine_card():
    findings = run(inp("order-sign", facts(conditions=CRAMPS), med("quinidine")))
    assert "quinine-for-cramps" not in [f.card_key for f in findings]


def test_quinidine_for_arrhythmia_reason_is_silent():
    order = med("quinidine", reasons=("cardiac_arrhythmia",))
    assert run(inp("order-sign", facts(conditions=CRAMPS), order), RULE_ID) == []


def test_quinidine_with_arrhythmia_on_problem_list_and_no_cramp_reason_is_silent():
    patient = facts(conditions=(*CRAMPS, cond("cardiac_arrhythmia")))
    assert run(inp("order-sign", patient, med("quinidine")), RULE_ID) == []


def test_explicit_cramp_reason_fires_despite_arrhythmia_on_problem_list():
    patient = facts(conditions=(cond("cardiac_arrhythmia"),))
    order = med("quinidine", reasons=("muscle_cramp",))
    assert len(run(inp("order-sign", patient, order), RULE_ID)) == 1


def test_nuedexta_never_fires_anything_drug_specific():
    nuedexta = med("quinidine", "nuedexta", reasons=("muscle_cramp",), mentions_cramp=True)
    findings = run(inp("order-sign", facts(age=80, conditions=CRAMPS), nuedexta))
    assert [f for f in findings if f.order is nuedexta] == []
    assert "cramp-workup" not in [f.rule_id for f in findings]


def test_quinidine_for_malaria_is_a_proper_use():
    """IV quinidine gluconate was the US treatment of severe malaria until 2019 (§11.4)."""
    coded = med("quinidine", reasons=("malaria",), route="injection")
    assert run(inp("order-select", facts(conditions=CRAMPS), coded), RULE_ID) == []
    words = med("quinidine", has_reason=True, text=("malaria",))
    assert run(inp("order-select", facts(conditions=CRAMPS), words), RULE_ID) == []
    listed = facts(conditions=(*CRAMPS, cond("malaria")))
    assert run(inp("order-sign", listed, med("quinidine")), RULE_ID) == []
