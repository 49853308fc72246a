"""baclofen-dose and baclofen-older-adult-kidney (order hooks)."""

from __future__ import annotations

import pytest

from tests.rules.conftest import cond, egfr, facts, inp, med, run

CRAMPS = (cond("muscle_cramp"),)


def baclofen(doses, **kwargs):
    return med("baclofen_oral", doses=doses, **kwargs)


@pytest.mark.parametrize(
    ("doses", "fires"),
    [
        ((10, 20, 30), False),  # the correct cramp regimen
        ((10,), False),
        ((5, 10, 15), False),
        ((15, 30), True),  # starts above 10 mg/day
        ((10, 20, 40), True),  # goes above 30 mg/day
        ((30,), True),
    ],
)
def test_dose_against_the_cramp_regimen(doses, fires):
    order = baclofen(doses, reasons=("muscle_cramp",))
    findings = run(inp("order-select", facts(labs=(egfr(90),)), order), "baclofen-dose")
    assert bool(findings) is fires


def test_dose_card_values_show_the_schedule():
    order = baclofen((15, 30, 45), mentions_cramp=True)
    [finding] = run(inp("order-sign", facts(), order), "baclofen-dose")
    assert finding.values["doses"] == ("15 mg/day", "30 mg/day", "45 mg/day")
    assert finding.values["first_too_high"] and finding.values["max_too_high"]


def test_dose_not_judged_when_not_for_cramps():
    order = baclofen((15, 30, 45))  # e.g. spasticity, no cramp link
    assert run(inp("order-sign", facts(), order), "baclofen-dose") == []


@pytest.mark.parametrize(
    ("kwargs", "fires"),
    [
        ({}, True),  # no reason: the cramp on the problem list decides
        ({"has_reason": True}, False),  # e.g. spasticity, a code no group knows
        ({"has_reason": True, "mentions_cramp": True}, True),  # "cramp" in its text
        ({"reasons": ("muscle_cramp",)}, True),
    ],
)
def test_a_stated_reason_outranks_the_problem_list(kwargs, fires):
    order = baclofen((60,), **kwargs)
    findings = run(inp("order-select", facts(conditions=CRAMPS), order), "baclofen-dose")
    assert bool(findings) is fires


def test_intrathecal_baclofen_gets_no_titration_card():
    order = med("baclofen_intrathecal", doses=(0.1,), reasons=("muscle_cramp",))
    findings = run(inp("order-sign", facts(age=80, labs=(egfr(20),)), order))
    assert not any(f.rule_id.startswith("baclofen") for f in findings)


def test_no_dose_card_in_patient_view():
    active = baclofen((40,), reasons=("muscle_cramp",))
    assert run(inp("patient-view", facts(active=(active,))), "baclofen-dose") == []


@pytest.mark.parametrize(
    ("age", "egfr_value", "fires"),
    [(64, 40, False), (65, 59.9, True), (65, 60, False), (80, 60, False)],
)
def test_beers_kidney_card(age, egfr_value, fires):
    order = baclofen((10, 20, 30), reasons=("muscle_cramp",))
    findings = run(
        inp("order-sign", facts(age=age, labs=(egfr(egfr_value),)), order),
        "baclofen-older-adult-kidney",
    )
    assert bool(findings) is fires


def test_beers_kidney_card_on_dialysis_offers_removal():
    order = baclofen((10,))
    patient = facts(age=70, conditions=(cond("esrd_dialysis"),))
    [finding] = run(inp("order-select", patient, order), "baclofen-older-adult-kidney")
    assert finding.values["dialysis"] is True
    assert [s.kind for s in finding.suggestions] == ["remove-order"]


def test_beers_kidney_card_needs_evidence_of_low_egfr():
    order = baclofen((10,))
    patient = facts(age=70, conditions=(cond("ckd"),))  # unstaged CKD, no eGFR
    assert run(inp("order-sign", patient, order), "baclofen-older-adult-kidney") == []
