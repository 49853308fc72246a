"""quinine-for-cramps: WARNING when quinine is ordered "for cramps" or with no documented
malaria/babesiosis indication."""

from __future__ import annotations

import pytest

from cds_service.rules.quinine import RULE_ID
from tests.rules.conftest import all_labs, cond, egfr, facts, inp, med, run

CRAMPS = (cond("muscle_cramp"),)


def test_quinine_for_cramps_in_cirrhosis_offers_remove_and_baclofen():
    patient = facts(age=50, labs=all_labs(), conditions=(*CRAMPS, cond("cirrhosis")))
    [finding] = run(inp("order-select", patient, med("quinine")), RULE_ID)
    assert finding.indicator == "warning"
    assert [s.kind for s in finding.suggestions] == ["remove-order", "replace-with-baclofen"]
    assert finding.suggestions[0].order_reference == "MedicationRequest/draft-1"
    assert finding.suggestions[1].schedule == "easl-cirrhosis"
    assert finding.values["basis"] == "no reason on the order; problem list has muscle cramp"


def test_quinine_for_idiopathic_cramps_offers_only_removal():
    """Baclofen's one-click order is EASL's cirrhosis regimen: not offered without cirrhosis."""
    patient = facts(age=50, labs=all_labs(), conditions=CRAMPS)
    [finding] = run(inp("order-select", patient, med("quinine")), RULE_ID)
    assert [s.kind for s in finding.suggestions] == ["remove-order"]


def test_quinine_for_cramps_with_an_abnormal_workup_offers_no_baclofen():
    """A secondary cause (K 3.1) is treated first: no symptomatic drug offered."""
    labs = all_labs(potassium=3.1)
    patient = facts(age=50, labs=labs, conditions=(*CRAMPS, cond("cirrhosis")))
    [finding] = run(inp("order-select", patient, med("quinine")), RULE_ID)
    assert [s.kind for s in finding.suggestions] == ["remove-order"]


def test_quinine_for_malaria_in_the_orders_own_words_is_silent():
    order = med("quinine", has_reason=True, text=("malaria",))
    assert run(inp("order-select", facts(conditions=CRAMPS), order), RULE_ID) == []


def test_quinine_for_malaria_is_silent():
    order = med("quinine", reasons=("malaria",), mentions_cramp=True)
    assert run(inp("order-select", facts(conditions=CRAMPS), order), RULE_ID) == []


def test_quinine_with_malaria_on_problem_list_and_no_cramp_reason_is_silent():
    patient = facts(conditions=(*CRAMPS, cond("malaria")))
    assert run(inp("order-sign", patient, med("quinine")), RULE_ID) == []


def test_quinine_without_a_documented_indication_warns_without_baclofen_swap():
    patient = facts(age=78, labs=all_labs())
    [finding] = run(inp("order-select", patient, med("quinine")), RULE_ID)
    assert finding.indicator == "warning"
    assert finding.values["no_indication"] is True
    assert [s.kind for s in finding.suggestions] == ["remove-order"]  # cramps not documented
    assert finding.values["baclofen_offer"] is False


def test_quinine_for_cramps_is_not_the_no_indication_wording():
    [finding] = run(inp("order-select", facts(conditions=CRAMPS), med("quinine")), RULE_ID)
    assert finding.values["no_indication"] is False


@pytest.mark.parametrize(
    ("order", "conditions", "no_indication"),
    [
        pytest.param(med("quinine"), (), True, id="no-reason-nothing-listed"),
        pytest.param(med("quinine", has_reason=True), (), True, id="unrecognised-reason"),
        pytest.param(
            med("quinine", reasons=("hypothyroidism",)), (), True, id="another-known-reason"
        ),
        pytest.param(
            med("quinine", has_reason=True), CRAMPS, True, id="other-reason-cramps-listed"
        ),
        pytest.param(med("quinine", reasons=("muscle_cramp",)), (), False, id="cramp-reason"),
        pytest.param(
            med("quinine", reasons=("muscle_cramp",)),
            (cond("malaria"),),
            False,
            id="cramp-reason-beats-listed-malaria",
        ),
    ],
)
def test_quinine_fires_unless_malaria_documented(order, conditions, no_indication):
    [finding] = run(inp("order-sign", facts(conditions=conditions), order), RULE_ID)
    assert finding.values["no_indication"] is no_indication


@pytest.mark.parametrize(
    ("order", "conditions"),
    [
        pytest.param(med("quinine", reasons=("malaria",)), (), id="malaria-reason"),
        pytest.param(med("quinine", reasons=("babesiosis",)), (), id="babesiosis-reason"),
        pytest.param(med("quinine"), (cond("malaria"),), id="malaria-listed"),
        pytest.param(med("quinine"), (cond("babesiosis"),), id="babesiosis-listed"),
        pytest.param(
            med("quinine", has_reason=True), (cond("malaria"),), id="other-reason-malaria-listed"
        ),
    ],
)
def test_quinine_with_documented_malaria_or_babesiosis_is_silent(order, conditions):
    assert run(inp("order-sign", facts(conditions=conditions), order), RULE_ID) == []


def test_patient_view_active_quinine_without_indication_warns():
    active = med("quinine", ref="MedicationRequest/active-1")
    [finding] = run(inp("patient-view", facts(age=80, active=(active,))), RULE_ID)
    assert finding.values["no_indication"] is True and finding.suggestions == ()


def test_unselected_draft_does_not_fire_in_order_select():
    order = med("quinine", reasons=("muscle_cramp",), selected=False)
    assert run(inp("order-select", facts(), order), RULE_ID) == []


def test_order_sign_fires_on_every_draft():
    order = med("quinine", reasons=("muscle_cramp",), selected=False)
    assert len(run(inp("order-sign", facts(), order), RULE_ID)) == 1


def test_patient_view_fires_without_delete_suggestions():
    active = med("quinine", ref="MedicationRequest/active-1", reasons=("muscle_cramp",))
    [finding] = run(inp("patient-view", facts(active=(active,))), RULE_ID)
    assert finding.suggestions == ()


def test_no_baclofen_alternative_when_older_adult_has_low_egfr():
    patient = facts(age=70, labs=(egfr(45),), conditions=CRAMPS)
    [finding] = run(inp("order-select", patient, med("quinine")), RULE_ID)
    assert [s.kind for s in finding.suggestions] == ["remove-order"]
    assert finding.values["baclofen_offer"] is False


def test_no_baclofen_alternative_when_already_on_baclofen():
    patient = facts(conditions=CRAMPS, active=(med("baclofen_oral", ref="MedicationRequest/b"),))
    [finding] = run(inp("order-select", patient, med("quinine")), RULE_ID)
    assert [s.kind for s in finding.suggestions] == ["remove-order"]


def test_order_without_id_gets_no_delete_suggestion():
    order = med("quinine", ref=None)
    [finding] = run(inp("order-select", facts(conditions=CRAMPS), order), RULE_ID)
    assert finding.suggestions == ()


def test_patient_view_text_does_not_promise_an_alternative_it_cannot_offer():
    active = med("quinine", ref="MedicationRequest/active-1", reasons=("muscle_cramp",))
    [finding] = run(inp("patient-view", facts(age=40, labs=(egfr(90),), active=(active,))), RULE_ID)
    assert finding.values["baclofen_offer"] is False
