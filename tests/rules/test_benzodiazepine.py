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
def test_exception_conditions_suppress(group):
    patient = facts(age=80, conditions=(cond(group),))
    assert run(inp("order-sign", patient, med(BENZO)), RULE_ID) == []


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
