"""Potassium supplements: the same logic as magnesium, with K < 3.5 mmol/L."""

from __future__ import annotations

import pytest

from tests.rules.conftest import cond, egfr, facts, inp, keys, lab, med, run

K = "potassium_supplement"


def k_cards(patient, *orders, hook="order-sign"):
    orders = orders or (med(K),)
    return [k for k in keys(run(inp(hook, patient, *orders))) if k.startswith("potassium-")]


@pytest.mark.parametrize(
    ("value", "card"),
    [
        (3.49, "potassium-repletion-info"),
        (3.497, "potassium-repletion-info"),  # beyond the 0.002 conversion tolerance
        (3.499, "potassium-not-deficient"),  # within it (K is 1:1, never reported so)
        (3.5, "potassium-not-deficient"),
    ],
)
def test_hypokalaemia_borderline(value, card):
    assert k_cards(facts(labs=(egfr(90), lab("potassium", value)))) == [card]


@pytest.mark.parametrize(
    ("egfr_value", "renal"),
    [
        (29.9, "potassium-renal-severe"),
        (30, "potassium-renal-moderate"),
        (59.9, "potassium-renal-moderate"),
        (60, None),
    ],
)
def test_hyperkalaemia_risk_bands(egfr_value, renal):
    cards = k_cards(facts(labs=(egfr(egfr_value), lab("potassium", 4.5))))
    assert [c for c in cards if "renal" in c] == ([renal] if renal else [])


def test_dialysis_is_critical():
    cards = k_cards(facts(labs=(lab("potassium", 4.5),), conditions=(cond("esrd_dialysis"),)))
    assert cards[0] == "potassium-renal-severe"


def test_no_k_result_orders_k_and_mg():
    [finding] = [
        f
        for f in run(inp("order-sign", facts(labs=(egfr(90),)), med(K)))
        if f.card_key == "potassium-check-levels"
    ]
    assert finding.suggestions[0].labs == ("potassium", "magnesium")


HYPOK = (cond("hypokalemia"),)


def test_hypokalemia_condition_documents_deficiency_when_no_result():
    assert k_cards(facts(labs=(egfr(90),), conditions=HYPOK)) == ["potassium-repletion-info"]


@pytest.mark.parametrize(
    ("value", "card"),
    [
        (4.6, "potassium-not-deficient"),  # the current normal result outranks the entry
        (3.5, "potassium-not-deficient"),
        (3.49, "potassium-repletion-info"),
    ],
)
def test_current_result_outranks_coded_hypokalemia(value, card):
    assert k_cards(facts(labs=(egfr(90), lab("potassium", value)), conditions=HYPOK)) == [card]


def test_hypokalemia_reason_documents_deficiency_even_with_a_normal_result():
    order = med(K, reasons=("hypokalemia",))
    assert k_cards(facts(labs=(egfr(90), lab("potassium", 3.8))), order) == [
        "potassium-repletion-info"
    ]


@pytest.mark.parametrize(
    ("route", "egfr_value", "cards"),
    [
        ("oral", 10, ["potassium-renal-severe"]),
        (None, 10, ["potassium-renal-severe"]),
        ("oral", 45, ["potassium-renal-moderate"]),
        ("oral", 60, []),
        ("injection", 10, []),  # IV fluids / parenteral nutrition: managed electrolytes
    ],
)
def test_potassium_containing_gets_only_the_kidney_card_by_mouth(route, egfr_value, cards):
    order = med("potassium_containing", route=route)
    assert k_cards(facts(labs=(egfr(egfr_value),)), order) == cards


def test_bowel_prep_with_magnesium_and_potassium_gets_both_kidney_cards():
    order = med("magnesium_containing", "potassium_containing", route="oral")
    findings = run(inp("order-sign", facts(labs=(egfr(20),)), order))
    assert keys(findings) == ["magnesium-renal-severe", "potassium-renal-severe"]
    assert all(f.values["combination"] for f in findings)


def test_check_levels_names_unused_potassium_results():
    note = "2 potassium result(s) with status 'unknown' were not used."
    patient = facts(
        labs=(egfr(90),), notes=(note, "1 tsh result(s) dated in the future were not used.")
    )
    [finding] = run(inp("order-sign", patient, med(K)), "potassium-deficiency-check")
    assert finding.card_key == "potassium-check-levels"
    assert finding.values["unused_notes"] == (note,)
