"""benzodiazepine-older-adult: Beers 2023, with its exceptions."""

from __future__ import annotations

import pytest

from cds_service.rules.benzodiazepine import RULE_ID
from tests.rules.conftest import cond, facts, inp, med, run

BENZO = "benzodiazepine"


@pytest.mark.parametrize(("age", "fires"), [(64, False), (65, True), (None, False)])
def test_age_threshold(age, fires):
    assert bool(run(inp("order-sign", facts(age=age), med(BENZO)), RULE_ID)) is fires


def test_warning_offers_removal_in_order_hooks():
    [finding] = run(inp("order-select", facts(age=80), med(BENZO)), RULE_ID)
    assert finding.indicator == "warning"
    assert [s.kind for s in finding.suggestions] == ["remove-order"]


@pytest.mark.parametrize("group", ["seizure_disorder", "benzodiazepine_beers_exception"])
def test_exception_conditions_suppress_an_order_without_a_reason(group):
    patient = facts(age=80, conditions=(cond(group),))
    assert run(inp("order-sign", patient, med(BENZO)), RULE_ID) == []


EPILEPSY_AND_CRAMPS = (cond("seizure_disorder"), cond("muscle_cramp"))


@pytest.mark.parametrize(
    ("kwargs", "fires"),
    [
        ({}, False),  # no reason: presumed for the seizure disorder
        ({"reasons": ("muscle_cramp",)}, True),  # ordered for cramps: the exception does not apply
        ({"mentions_cramp": True}, True),  # "cramp" in the order text
        ({"reasons": ("seizure_disorder",)}, False),
        ({"reasons": ("benzodiazepine_beers_exception",)}, False),
        ({"reasons": ("seizure_disorder", "muscle_cramp")}, False),  # the exception reason wins
        ({"has_reason": True}, True),  # another stated reason (e.g. insomnia)
    ],
)
def test_exception_on_problem_list_covers_only_the_exceptional_use(kwargs, fires):
    patient = facts(age=75, conditions=EPILEPSY_AND_CRAMPS)
    findings = run(inp("order-select", patient, med(BENZO, **kwargs)), RULE_ID)
    assert bool(findings) is fires


def test_benzodiazepine_for_cramps_despite_epilepsy_offers_baclofen_swap():
    patient = facts(age=75, conditions=EPILEPSY_AND_CRAMPS)
    order = med(BENZO, reasons=("muscle_cramp",))
    [finding] = run(inp("order-select", patient, order), RULE_ID)
    assert finding.values["for_cramps"] is True


def test_other_orders_in_the_same_call_keep_the_exception():
    patient = facts(age=75, conditions=EPILEPSY_AND_CRAMPS)
    plain = med(BENZO, ref="MedicationRequest/a")
    cramp = med(BENZO, ref="MedicationRequest/b", reasons=("muscle_cramp",))
    findings = run(inp("order-sign", patient, plain, cramp), RULE_ID)
    assert [f.order.reference for f in findings] == ["MedicationRequest/b"]


def test_seizure_reason_suppresses():
    order = med(BENZO, reasons=("seizure_disorder",))
    assert run(inp("order-sign", facts(age=80), order), RULE_ID) == []


def test_nonoral_seizure_rescue_product_suppresses():
    order = med(BENZO, "benzodiazepine_nonoral_seizure_route", route="nasal")
    assert run(inp("order-sign", facts(age=80), order), RULE_ID) == []


def test_baclofen_swap_only_with_explicit_cramp_reason():
    patient = facts(age=70, conditions=(cond("muscle_cramp"),))
    [plain] = run(inp("order-sign", patient, med(BENZO)), RULE_ID)
    assert plain.values["for_cramps"] is False
    [explicit] = run(inp("order-sign", patient, med(BENZO, mentions_cramp=True)), RULE_ID)
    assert explicit.values["for_cramps"] is True


def test_patient_view_active_benzodiazepine():
    active = med(BENZO, ref="MedicationRequest/a")
    [finding] = run(inp("patient-view", facts(age=75, active=(active,))), RULE_ID)
    assert finding.suggestions == ()


@pytest.mark.parametrize(
    "stated",
    [
        "alcohol_or_benzodiazepine_withdrawal",
        "rem_sleep_behaviour_disorder",
        "generalized_anxiety_disorder",
        "procedure",
        "seizure_disorder",
        "palliative_or_hospice_care",
    ],
)
def test_beers_exceptions_and_scope_in_the_orders_own_words_suppress(stated):
    """ "CIWA protocol for alcohol withdrawal", "pre-op sedation", "hospice": Beers 2023's own
    exceptions and scope, written as free text (the clinical layer reads it, with negation)."""
    order = med(BENZO, has_reason=True, text=(stated,))
    assert run(inp("order-sign", facts(age=82), order), RULE_ID) == []


def test_a_negated_exception_in_words_is_no_exception():
    """ "no seizures" affirms nothing, so the order has a reason but no exception."""
    order = med(BENZO, has_reason=True)
    assert run(inp("order-sign", facts(age=82), order), RULE_ID)


def test_hospice_on_the_problem_list_suppresses():
    patient = facts(age=88, conditions=(cond("palliative_or_hospice_care"),))
    assert run(inp("order-sign", patient, med(BENZO)), RULE_ID) == []


def test_injectable_midazolam_is_peri_procedural():
    coded = med(BENZO, "midazolam_injection", display="midazolam 5 MG/ML Injectable Solution")
    assert run(inp("order-sign", facts(age=80), coded), RULE_ID) == []
    in_words = med(BENZO, display="Midazolam 2 mg IV", route="injection")
    assert run(inp("order-sign", facts(age=80), in_words), RULE_ID) == []
    iv_lorazepam = med(BENZO, display="lorazepam 2 MG/ML Injectable Solution", route="injection")
    assert run(inp("order-sign", facts(age=80), iv_lorazepam), RULE_ID)
