"""baclofen-safety: one card per oral baclofen order, drafted or already taken (§11.3)."""

from __future__ import annotations

from datetime import date

import pytest

from cds_service.clinical.types import ConditionFact
from cds_service.rules.baclofen_safety import RULE_ID
from tests.rules.conftest import all_labs, cond, egfr, facts, inp, keys, med, run

BACLOFEN = "baclofen_oral"
CRAMPS = (cond("muscle_cramp"),)


def draft(**kwargs):
    kwargs.setdefault("display", "baclofen 10 MG Oral Tablet")
    return med(BACLOFEN, **kwargs)


def check(patient, order=None, hook="order-sign"):
    return run(inp(hook, patient, order or draft()), RULE_ID)


def concerns(finding):
    names = ("severe_kidney", "older_kidney", "older_no_egfr", "he", "pregnant", "dose_high")
    return [n for n in names if finding.values[n]]


@pytest.mark.parametrize(
    ("age", "labs", "conditions", "expected"),
    [
        (45, (egfr(25),), (), ["severe_kidney"]),  # any age (encephalopathy case series)
        (45, (egfr(30),), (), []),
        (45, (), (cond("esrd_dialysis"),), ["severe_kidney"]),
        (45, (), (cond("ckd_g4_g5"),), ["severe_kidney"]),
        (65, (egfr(45),), (), ["older_kidney"]),  # Beers
        (64, (egfr(45),), (), []),
        (78, (egfr(60),), (), []),
        (78, (egfr(60, comparator=">"),), (), []),
        (70, (), (), ["older_no_egfr"]),  # check kidney function first
        (70, (), (cond("ckd"),), ["older_no_egfr"]),  # unstaged CKD without an eGFR
        (50, (egfr(90),), (cond("hepatic_encephalopathy"),), ["he"]),
        (30, (egfr(110),), (cond("pregnancy"),), ["pregnant"]),
        (80, (egfr(20),), (cond("hepatic_encephalopathy"),), ["severe_kidney", "he"]),
        (None, (), (), []),
    ],
)
def test_concerns(age, labs, conditions, expected):
    found = check(facts(age=age, labs=labs, conditions=conditions))
    assert [concerns(f) for f in found] == ([expected] if expected else [])


def test_card_offers_to_remove_the_draft_and_is_a_warning():
    [finding] = check(facts(age=45, labs=(egfr(25),)))
    assert (finding.card_key, finding.indicator) == ("baclofen-safety", "warning")
    assert [s.kind for s in finding.suggestions] == ["remove-order"]


@pytest.mark.parametrize(
    ("doses", "first_high", "max_high"),
    [
        ((10, 20, 30), False, False),  # the EASL titration
        ((15,), True, False),
        ((10, 20, 40), False, True),
        ((60,), True, True),
    ],
)
def test_dose_for_cramps(doses, first_high, max_high):
    order = draft(doses=doses, reasons=("muscle_cramp",))
    found = check(facts(age=50, labs=(egfr(90),)), order)
    if not (first_high or max_high):
        assert found == []
        return
    [finding] = found
    assert (finding.values["first_too_high"], finding.values["max_too_high"]) == (
        first_high,
        max_high,
    )
    assert finding.suggestions == ()  # a dose question, not "remove it"


def test_dose_is_not_judged_for_spasticity():
    order = draft(doses=(60,), has_reason=True)  # a reason the terminology does not group
    assert check(facts(age=50, labs=(egfr(90),), conditions=CRAMPS), order) == []


def test_a_renewal_is_not_a_start():
    """An active baclofen order: the draft continues it, so 30 mg/day is no 'start' problem."""
    running = med(BACLOFEN, ref="MedicationRequest/active-1", doses=(30,))
    patient = facts(age=50, labs=(egfr(90),), active=(running,), conditions=CRAMPS)
    assert check(patient, draft(doses=(30,), reasons=("muscle_cramp",))) == []
    [above] = check(patient, draft(doses=(40,), reasons=("muscle_cramp",)))
    assert above.values["max_too_high"] and not above.values["first_too_high"]


def test_patient_view_checks_baclofen_already_taken():
    active = med(BACLOFEN, ref="MedicationRequest/a1", display="baclofen 10 MG Oral Tablet")
    [finding] = run(inp("patient-view", facts(age=75, labs=(egfr(45),), active=(active,))))
    assert (finding.card_key, finding.values["drafted"], finding.suggestions) == (
        "baclofen-safety",
        False,
        (),
    )
    assert run(inp("patient-view", facts(age=50, labs=(egfr(90),), active=(active,)))) == []


def test_patient_view_without_baclofen_shows_no_baclofen_card():
    """A 'not advised' card only where baclofen is ordered or taken (issue 10 item 9)."""
    patient = facts(age=75, labs=(egfr(25),), conditions=CRAMPS)
    assert "baclofen-safety" not in keys(run(inp("patient-view", patient)))


def test_hospice_leaves_out_the_beers_concerns_only():
    hospice = (cond("palliative_or_hospice_care"),)
    assert check(facts(age=80, labs=(egfr(45),), conditions=hospice)) == []
    assert check(facts(age=80, conditions=hospice)) == []
    [severe] = check(facts(age=80, labs=(egfr(20),), conditions=hospice))
    assert concerns(severe) == ["severe_kidney"]


def test_intrathecal_baclofen_gets_no_card():
    order = med("baclofen_intrathecal", display="Lioresal Intrathecal")
    assert check(facts(age=80, labs=(egfr(20),)), order) == []


def test_unselected_draft_is_not_judged():
    assert check(facts(age=45, labs=(egfr(20),)), draft(selected=False), "order-select") == []


def test_normal_patient_normal_dose_no_card():
    assert check(facts(age=50, labs=all_labs()), draft(doses=(10,), reasons=("muscle_cramp",))) == []


@pytest.mark.parametrize(
    ("age", "onset", "counts"),
    [
        (30, date(2026, 8, 1), True),
        (30, None, True),
        (30, date(2025, 12, 1), False),  # began more than 300 days ago: the birth is past
        (67, date(2026, 8, 1), False),  # an entry left on an older woman's list
        (None, date(2026, 8, 1), True),
    ],
)
def test_only_a_plausible_pregnancy_entry_counts(age, onset, counts):
    entry = ConditionFact(frozenset({"pregnancy"}), "Pregnancy", "Condition/p", onset)
    found = check(facts(age=age, labs=(egfr(110),), conditions=(entry,)))
    assert bool(found) is counts
