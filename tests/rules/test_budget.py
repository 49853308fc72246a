"""The alert budget (rules/budget.py): at most one card per order, at most three at chart
open, never dropping a critical card."""

from __future__ import annotations

import dataclasses

from cds_service.rules import evaluate
from cds_service.rules.budget import apply_budget
from cds_service.rules.types import AlertBudget, CardSpec, Finding
from tests.rules.conftest import all_labs, cond, egfr, facts, inp, keys, lab, med

SPEC = {
    ind: CardSpec("r", f"card-{ind}", ind, {})  # type: ignore[arg-type]
    for ind in ("info", "warning", "critical")
}


def finding(indicator: str, ref: str | None, rule: str = "r") -> Finding:
    order = med("quinine", ref=ref) if ref else None
    return dataclasses.replace(SPEC[indicator].finding(order=order, evidence=(), values={}),
                               rule_id=rule)  # fmt: skip


def test_one_card_per_order_keeps_the_most_urgent_then_the_earlier_rule():
    found = [
        finding("warning", "MedicationRequest/a", "first"),
        finding("critical", "MedicationRequest/a", "second"),
        finding("warning", "MedicationRequest/b", "first"),
        finding("warning", "MedicationRequest/b", "second"),
    ]
    kept = apply_budget(found, "order-sign", AlertBudget())
    assert [(f.indicator, f.rule_id) for f in kept] == [("critical", "second"), ("warning", "first")]


def test_patient_view_shows_at_most_three_info_dropping_first():
    found = [finding("info", f"MedicationRequest/{i}") for i in range(3)] + [
        finding("warning", f"MedicationRequest/w{i}") for i in range(2)
    ]
    kept = apply_budget(found, "patient-view", AlertBudget())
    assert [f.indicator for f in kept] == ["info", "warning", "warning"]


def test_critical_cards_are_never_dropped():
    found = [finding("critical", f"MedicationRequest/{i}") for i in range(5)]
    found.append(finding("critical", "MedicationRequest/0", "second rule on the same order"))
    assert len(apply_budget(found, "patient-view", AlertBudget())) == 6


def test_order_hooks_allow_one_patient_level_card():
    found = [finding("info", None, "a"), finding("warning", None, "b"), finding("info", "MedicationRequest/x")]
    kept = apply_budget(found, "order-select", AlertBudget())
    assert [(f.rule_id, f.order is None) for f in kept] == [("b", True), ("r", False)]


def test_the_ordinary_78_year_old_chart_stays_within_budget():
    """The pharmacist's case: 78, CKD 3b (eGFR 38), cramps, 12 medications including a
    benzodiazepine, cyclobenzaprine, magnesium and potassium supplements, furosemide."""
    meds = [
        med("benzodiazepine", ref="MedicationRequest/1", display="lorazepam 1 MG"),
        med("cyclobenzaprine", ref="MedicationRequest/2", display="cyclobenzaprine 10 MG"),
        med("magnesium_supplement", ref="MedicationRequest/3", display="magnesium oxide 400 MG"),
        med("potassium_supplement", ref="MedicationRequest/4", display="potassium chloride 20 MEQ"),
        med("diuretic", ref="MedicationRequest/5", display="furosemide 40 MG"),
        med("statin", ref="MedicationRequest/6", display="atorvastatin 20 MG"),
        med("ace_inhibitor", ref="MedicationRequest/7", display="lisinopril 10 MG"),
        *[med("other", ref=f"MedicationRequest/{i}", display=f"drug {i}") for i in range(8, 13)],
    ]
    patient = facts(
        age=78,
        labs=all_labs(egfr=38, potassium=4.4, magnesium=0.82),
        conditions=(cond("muscle_cramp"), cond("ckd")),
        active=tuple(meds),
    )
    found = keys(evaluate(inp("patient-view", patient)))
    assert len(found) <= 3, found
    # harm first; the potassium beside furosemide presumably replaces its losses, so the third
    # card is the magnesium one (taken for the cramps on the problem list)
    assert found == ["benzodiazepine-older-adult", "muscle-relaxant-older-adult",
                     "magnesium-not-deficient"]  # fmt: skip


def test_a_supplement_with_a_high_level_is_shown_whatever_else_there_is():
    meds = [med("potassium_supplement", ref="MedicationRequest/k", display="KCl")] + [
        med("benzodiazepine", ref=f"MedicationRequest/b{i}", display=f"benzo {i}") for i in range(4)
    ]
    patient = facts(age=80, labs=(egfr(70), lab("potassium", 6.0)), active=tuple(meds))
    found = keys(evaluate(inp("patient-view", patient)))
    assert "potassium-level-high" in found and len(found) == 3
