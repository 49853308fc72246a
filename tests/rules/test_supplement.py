"""Magnesium and potassium orders: one card per order, the first that applies (supplement.py).

Tested as a clinician would check them: high values never called normal, the lab's own flag
or range before the cut-offs, kidney bands at their borders, what is not supplementation
(IV magnesium for pre-eclampsia, laxatives, potassium citrate), patient-view restraint.
"""

from __future__ import annotations

import pytest

from cds_service.rules.types import Thresholds
from tests.rules.conftest import cond, egfr, facts, inp, keys, lab, med, run

MG, K = "magnesium_supplement", "potassium_supplement"
CRAMPS = (cond("muscle_cramp"),)
MG_DL = 0.41144  # mg/dL -> mmol/L, as the clinical layer converts


def cards(patient, *orders, hook="order-select", thresholds=None):
    orders = orders or (med(MG),)
    return keys(run(inp(hook, patient, *orders, thresholds=thresholds)))


def one(patient, *orders, hook="order-select"):
    [finding] = run(inp(hook, patient, *(orders or (med(MG),))))
    return finding


# -- high levels: critical, never "normal" ---------------------------------------------------


@pytest.mark.parametrize(
    ("group", "analyte", "value", "interpretation", "card"),
    [
        (K, "potassium", 5.8, "high", "potassium-level-high"),  # flagged H
        (K, "potassium", 5.3, None, "potassium-level-high"),  # above 5.0, no flag
        (K, "potassium", 5.0, None, "potassium-not-deficient"),  # at the cut-off: not high
        (K, "potassium", 5.3, "normal", "potassium-not-deficient"),  # the lab's range says normal
        (MG, "magnesium", 3.6 * MG_DL, "high", "magnesium-level-high"),
        (MG, "magnesium", 2.7 * MG_DL, None, "magnesium-level-high"),  # 1.11 mmol/L
        (MG, "magnesium", 2.6 * MG_DL, None, "magnesium-not-deficient"),  # 1.0697: at the cut-off
        (MG, "magnesium", 1.2, "normal", "magnesium-not-deficient"),  # the lab's own call
    ],
)
def test_high_levels(group, analyte, value, interpretation, card):
    patient = facts(labs=(egfr(80), lab(analyte, value, interpretation=interpretation)))
    assert cards(patient, med(group)) == [card]


def test_high_potassium_beats_every_other_card_and_names_potassium_raisers():
    lisinopril = med("ace_inhibitor", ref="MedicationRequest/a1", display="lisinopril 20 MG")
    spiro = med("potassium_sparing", ref="MedicationRequest/a2", display="spironolactone 25 MG")
    patient = facts(labs=(egfr(20), lab("potassium", 6.1)), active=(lisinopril, spiro))
    finding = one(patient, med(K), hook="order-sign")
    assert (finding.card_key, finding.indicator) == ("potassium-level-high", "critical")
    assert finding.values["raising"] == ("lisinopril 20 MG", "spironolactone 25 MG")
    assert finding.values["level_state"] == "high"


def test_high_level_on_dialysis_is_the_level_card():
    patient = facts(labs=(lab("magnesium", 1.5),), conditions=(cond("esrd_dialysis"),))
    assert cards(patient) == ["magnesium-level-high"]


def test_iv_magnesium_for_pre_eclampsia_expects_high_levels():
    """Therapeutic Mg in pre-eclampsia is 2-3.5 mmol/L: no 'hold' card for a high level."""
    order = med(MG, route="injection", text=("pre_eclampsia_eclampsia",))
    patient = facts(labs=(egfr(90), lab("magnesium", 2.4)))
    assert cards(patient, order) == []


def test_iv_magnesium_for_torsades_is_silent_whatever_the_level():
    order = med(MG, route="injection", reasons=("torsades_de_pointes",))
    assert cards(facts(labs=(egfr(90), lab("magnesium", 1.2))), order) == []


def test_iv_magnesium_repletion_with_a_high_level_is_critical():
    order = med(MG, route="injection")
    assert cards(facts(labs=(egfr(90), lab("magnesium", 1.3))), order) == ["magnesium-level-high"]


# -- kidney bands: one card per order --------------------------------------------------------


@pytest.mark.parametrize(
    ("egfr_value", "comparator", "card"),
    [
        (29.9, None, "magnesium-renal-caution"),
        (30, None, "magnesium-not-deficient"),  # moderate: said on the level card
        (59.9, None, "magnesium-not-deficient"),
        (60, None, "magnesium-not-deficient"),
        (60, ">", "magnesium-not-deficient"),
        (15, "<", "magnesium-renal-caution"),
    ],
)
def test_egfr_borderlines(egfr_value, comparator, card):
    patient = facts(labs=(egfr(egfr_value, comparator=comparator), lab("magnesium", 0.8)))
    finding = one(patient)
    assert finding.card_key == card
    assert finding.values["kidney"] == (
        "severe" if egfr_value < 30 else "moderate" if egfr_value < 60 and not comparator
        else "adequate"
    )  # fmt: skip


def test_dialysis_is_critical_for_both_supplements():
    dialysis = facts(labs=(lab("magnesium", 0.8), lab("potassium", 4.0)),
                     conditions=(cond("esrd_dialysis"),))  # fmt: skip
    assert cards(dialysis, med(MG)) == ["magnesium-renal-critical"]
    assert cards(dialysis, med(K)) == ["potassium-renal-critical"]


def test_magnesium_with_egfr_below_30_and_no_level_is_critical_potassium_is_a_warning():
    severe = facts(labs=(egfr(22),))
    mg = one(severe, med(MG))
    assert (mg.card_key, mg.indicator) == ("magnesium-renal-critical", "critical")
    assert mg.suggestions[0].labs == ("magnesium", "potassium")
    k = one(severe, med(K))
    assert (k.card_key, k.indicator) == ("potassium-renal-caution", "warning")


@pytest.mark.parametrize("group", ["ckd_g4_g5", "esrd_dialysis"])
def test_coded_advanced_ckd_without_egfr_counts_as_severe(group):
    patient = facts(labs=(lab("magnesium", 0.8),), conditions=(cond(group),))
    expected = "magnesium-renal-critical" if group == "esrd_dialysis" else "magnesium-renal-caution"
    assert cards(patient) == [expected]


def test_low_potassium_with_egfr_below_30_is_cautious_repletion_not_critical():
    finding = one(facts(labs=(egfr(25), lab("potassium", 3.2))), med(K))
    assert (finding.card_key, finding.indicator) == ("potassium-renal-caution", "warning")
    assert finding.values["level_state"] == "low"


def test_derived_egfr_is_flagged_as_computed():
    patient = facts(labs=(egfr(24, derived_from="Observation/cr"), lab("magnesium", 0.8)))
    assert one(patient).values["egfr_computed"] is True


# -- the deficiency question --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "interpretation", "card"),
    [
        (0.69, None, "magnesium-repletion-info"),
        (0.70, None, "magnesium-not-deficient"),  # exactly at the threshold is not low
        (0.72, "low", "magnesium-repletion-info"),  # the lab's own flag wins
        (0.68, "normal", "magnesium-not-deficient"),  # ... both ways
        (0.95, None, "magnesium-not-deficient"),
    ],
)
def test_magnesium_deficiency_borderlines(value, interpretation, card):
    patient = facts(labs=(egfr(90), lab("magnesium", value, interpretation=interpretation)))
    assert cards(patient) == [card]


@pytest.mark.parametrize(
    ("value", "card"),
    [(3.49, "potassium-repletion-info"), (3.5, "potassium-not-deficient"), (3.1, "potassium-repletion-info")],
)
def test_potassium_deficiency_borderlines(value, card):
    assert cards(facts(labs=(egfr(90), lab("potassium", value))), med(K)) == [card]


@pytest.mark.parametrize(
    ("value", "card"),
    [
        (1.7 * MG_DL, "magnesium-not-deficient"),  # 0.6994: the conventional cut-off itself
        (1.69 * MG_DL, "magnesium-repletion-info"),  # 0.6953
        (0.698, "magnesium-not-deficient"),  # exactly threshold - tolerance: not low
        (0.6979, "magnesium-repletion-info"),
    ],
)
def test_conversion_rounding_tolerance(value, card):
    assert cards(facts(labs=(egfr(90), lab("magnesium", value)))) == [card]


def test_less_than_comparator_at_threshold_is_low():
    assert cards(facts(labs=(egfr(90), lab("magnesium", 0.7, comparator="<")))) == [
        "magnesium-repletion-info"
    ]


def test_threshold_is_configurable():
    patient = facts(labs=(egfr(90), lab("magnesium", 0.72)))
    found = cards(patient, thresholds=Thresholds(hypomagnesemia_mmol_per_l=0.75))
    assert found == ["magnesium-repletion-info"]


def test_no_level_orders_both_electrolytes_or_only_the_missing_one():
    finding = one(facts(labs=(egfr(90),)))
    assert finding.card_key == "magnesium-check-levels"
    assert finding.suggestions[0].labs == ("magnesium", "potassium")
    assert finding.suggestions[0].recommended
    finding = one(facts(labs=(egfr(90), lab("potassium", 4.1))))
    assert finding.suggestions[0].labs == ("magnesium",)


def test_moderate_kidney_function_is_said_on_the_level_card():
    finding = one(facts(labs=(egfr(45),)))
    assert (finding.card_key, finding.values["kidney"]) == ("magnesium-check-levels", "moderate")


UNKNOWN_STATUS = "1 magnesium result(s) with status 'unknown' were not used."
TOO_OLD = "The latest magnesium result (2024-01-02) is older than 365 days and was not used."


def test_check_levels_names_results_on_file_that_were_not_used():
    notes = (UNKNOWN_STATUS, "2 potassium result(s) with status 'unknown' were not used.", TOO_OLD)
    finding = one(facts(labs=(egfr(90),), notes=notes), hook="order-sign")
    assert finding.card_key == "magnesium-check-levels"
    assert finding.values["unused_notes"] == (UNKNOWN_STATUS, TOO_OLD)  # not the K note


def test_coded_deficiency_documents_it_only_without_a_result():
    hypomg = (cond("hypomagnesemia"),)
    finding = one(facts(labs=(egfr(90),), conditions=hypomg))
    assert (finding.card_key, finding.values["low_by"]) == (
        "magnesium-repletion-info",
        "the problem list",
    )
    assert cards(facts(labs=(egfr(90), lab("magnesium", 0.9)), conditions=hypomg)) == [
        "magnesium-not-deficient"
    ]


@pytest.mark.parametrize("how", ["coded", "words"])
def test_the_orders_own_reason_documents_a_deficiency(how):
    order = (
        med(MG, reasons=("hypomagnesemia",))
        if how == "coded"
        else med(MG, has_reason=True, text=("hypomagnesemia",))
    )
    finding = one(facts(labs=(egfr(90), lab("magnesium", 0.9))), order)
    assert (finding.card_key, finding.values["low_by"]) == (
        "magnesium-repletion-info",
        "the order's reason",
    )


def test_magnesium_in_pregnancy_gets_no_deficiency_card_but_kidney_cards_stay():
    pregnant = (cond("pregnancy"),)
    assert cards(facts(labs=(egfr(95), lab("magnesium", 0.85)), conditions=pregnant)) == []
    assert cards(facts(labs=(egfr(95),), conditions=pregnant)) == []
    assert cards(facts(labs=(egfr(20), lab("magnesium", 0.85)), conditions=pregnant)) == [
        "magnesium-renal-caution"
    ]
    assert cards(facts(labs=(egfr(95), lab("potassium", 4.2)), conditions=pregnant), med(K)) == [
        "potassium-not-deficient"
    ]


# -- orders that are not supplementation (§11.4) -------------------------------------------


@pytest.mark.parametrize(
    ("order", "use"),
    [
        (med(MG, route="injection", reasons=("asthma",)), "IV magnesium"),
        (med(MG, "magnesium_laxative_antacid"), "Magnesium laxative or antacid"),
        (med(MG, has_reason=True, text=("laxative_or_bowel_prep",)), "Magnesium laxative or antacid"),
        (med(MG, reasons=("constipation",)), "Magnesium laxative or antacid"),
        (med(K, "potassium_citrate"), "Potassium citrate"),
        (med(K, reasons=("kidney_stones",)), "Potassium citrate"),
        (med(K, "potassium_phosphate"), "Potassium phosphate"),
        (med("magnesium_containing", route="oral"), "Magnesium-containing product"),
        (med("potassium_containing"), "Potassium-containing product"),
    ],
)
def test_other_uses_get_no_deficiency_card_and_a_kidney_card_only_when_severe(order, use):
    normal = (lab("magnesium", 0.8), lab("potassium", 4.2))
    for value in (90, 45):
        assert cards(facts(labs=(egfr(value), *normal)), order) == []
    assert cards(facts(labs=(egfr(90),)), order) == []  # no level: still not "check levels"
    finding = one(facts(labs=(egfr(22), *normal)), order)
    assert finding.card_key.endswith("-other-use-kidney")
    assert (finding.indicator, finding.values["use_label"]) == ("warning", use)
    no_level = one(facts(labs=(egfr(22),)), order)
    own = "magnesium" if finding.card_key.startswith("magnesium") else "potassium"
    assert no_level.suggestions[0].labs == (own,)  # never the other electrolyte


def test_iv_magnesium_without_a_reason_is_repletion_not_cramp_treatment():
    """No "unlikely to help cramps" card; a documented low is noted, a missing level asked for."""
    iv = med(MG, route="injection")
    assert cards(facts(labs=(egfr(90), lab("magnesium", 0.9))), iv) == []
    assert cards(facts(labs=(egfr(90), lab("magnesium", 0.55))), iv) == ["magnesium-repletion-info"]
    finding = one(facts(labs=(egfr(90),)), iv)
    assert (finding.card_key, finding.values["use_label"]) == (
        "magnesium-check-levels",
        "IV magnesium",
    )
    assert cards(facts(labs=(egfr(22), lab("magnesium", 0.9))), iv) == ["magnesium-other-use-kidney"]
    assert cards(facts(labs=(egfr(90),), active=(iv,)), hook="patient-view") == []


def test_iv_magnesium_for_pre_eclampsia_above_the_therapeutic_range_is_critical():
    order = med(MG, route="injection", text=("pre_eclampsia_eclampsia",))
    toxic = facts(labs=(egfr(90), lab("magnesium", 9.8 * MG_DL, interpretation="high")))
    assert cards(toxic, order) == ["magnesium-level-high"]
    at_limit = facts(labs=(egfr(90), lab("magnesium", 3.5, interpretation="high")))
    assert cards(at_limit, order) == []


def test_combination_injections_get_only_the_high_level_card():
    order = med("magnesium_containing", "potassium_containing", route="injection")
    assert cards(facts(labs=(egfr(15),)), order) == []
    assert cards(facts(labs=(egfr(90), lab("potassium", 5.9))), order) == ["potassium-level-high"]


def test_documented_low_level_on_dialysis_is_cautious_repletion_not_critical():
    dialysis = (cond("esrd_dialysis"),)
    finding = one(facts(labs=(lab("potassium", 3.0),), conditions=dialysis), med(K))
    assert (finding.card_key, finding.indicator) == ("potassium-renal-caution", "warning")


def test_patient_view_potassium_beside_a_loop_diuretic_is_presumed_replacement():
    kcl = med(K, ref="MedicationRequest/k")
    furosemide = med("diuretic", ref="MedicationRequest/f")
    spiro = med("diuretic", "potassium_sparing", ref="MedicationRequest/s")
    normal = (egfr(70), lab("potassium", 4.3))
    with_loop = facts(labs=normal, conditions=CRAMPS, active=(kcl, furosemide))
    assert "potassium-not-deficient" not in cards(with_loop, kcl, furosemide, hook="patient-view")
    with_spiro = facts(labs=normal, conditions=CRAMPS, active=(kcl, spiro))
    assert "potassium-not-deficient" in cards(with_spiro, kcl, spiro, hook="patient-view")


def test_a_combination_carrying_both_electrolytes_gets_one_card():
    order = med("magnesium_containing", "potassium_containing", route="oral")
    assert cards(facts(labs=(egfr(22),)), order) == ["potassium-other-use-kidney"]


def test_potassium_citrate_with_a_high_potassium_is_still_held():
    order = med(K, "potassium_citrate")
    assert cards(facts(labs=(egfr(90), lab("potassium", 5.7))), order) == ["potassium-level-high"]


# -- patient-view: only what matters at chart open -------------------------------------------


def test_patient_view_shows_dangerous_cards_for_every_active_supplement():
    active = med(MG, ref="MedicationRequest/a1")
    patient = facts(labs=(egfr(20), lab("magnesium", 0.8)), active=(active,))
    assert cards(patient, hook="patient-view") == ["magnesium-renal-caution"]
    high = facts(labs=(egfr(90), lab("magnesium", 1.3)), active=(active,))
    assert cards(high, hook="patient-view") == ["magnesium-level-high"]


def test_patient_view_level_cards_only_for_supplements_taken_for_cramps():
    active = med(MG, ref="MedicationRequest/a1")
    normal = (egfr(45), lab("magnesium", 0.9))
    assert cards(facts(labs=normal, active=(active,)), hook="patient-view") == []
    with_cramps = facts(labs=normal, conditions=CRAMPS, active=(active,))
    assert cards(with_cramps, hook="patient-view") == ["cramp-workup", "magnesium-not-deficient"]


def test_patient_view_never_shows_repletion_info():
    active = med(K, ref="MedicationRequest/a1")
    patient = facts(labs=(egfr(90), lab("potassium", 3.1)), conditions=CRAMPS, active=(active,))
    assert "potassium-repletion-info" not in cards(patient, hook="patient-view")


def test_unselected_draft_is_context_only():
    assert cards(facts(labs=(egfr(10),)), med(MG, selected=False)) == []


def test_a_supplement_to_prevent_a_deficiency_states_its_reason():
    """ "to prevent diuretic-induced hypokalaemia": not documented low, not unexplained."""
    order = med(K, has_reason=True, text=("electrolyte_loss_prevention",))
    assert cards(facts(labs=(egfr(90), lab("potassium", 4.2))), order) == []
    assert cards(facts(labs=(egfr(90), lab("potassium", 5.6))), order) == ["potassium-level-high"]


def test_deficiency_cards_respect_the_orders_indication_in_order_hooks():
    """Magnesium for migraine, potassium for something else: the cramp evidence does not apply."""
    normal = facts(labs=(egfr(90), lab("magnesium", 0.9), lab("potassium", 4.2)))
    assert cards(normal, med(MG, has_reason=True)) == []  # a stated reason that is not cramps
    assert cards(normal, med(K, has_reason=True)) == []
    assert cards(normal, med(MG)) == ["magnesium-not-deficient"]  # unexplained supplement
    assert cards(normal, med(MG, has_reason=True, text=("muscle_cramp",))) == [
        "cramp-workup",  # an order for cramps also asks for the missing work-up labs
        "magnesium-not-deficient",
    ]
    # a stated other reason never hides danger
    severe = facts(labs=(egfr(20), lab("magnesium", 1.3)))
    assert cards(severe, med(MG, has_reason=True)) == ["magnesium-level-high"]
