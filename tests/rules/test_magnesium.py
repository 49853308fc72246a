"""Magnesium supplements: kidney risk (critical/warning) and the deficiency check."""

from __future__ import annotations

import pytest

from cds_service.rules.types import Thresholds
from tests.rules.conftest import cond, egfr, facts, inp, keys, lab, med, run

MG = "magnesium_supplement"
CRAMPS = (cond("muscle_cramp"),)


def mg_cards(patient, *orders, hook="order-select", thresholds=None):
    orders = orders or (med(MG),)
    findings = run(inp(hook, patient, *orders, thresholds=thresholds))
    return [k for k in keys(findings) if k.startswith("magnesium-")]


@pytest.mark.parametrize(
    ("egfr_value", "comparator", "renal"),
    [
        (29.9, None, ["magnesium-renal-severe"]),
        (30, None, ["magnesium-renal-moderate"]),
        (59.9, None, ["magnesium-renal-moderate"]),
        (60, None, []),
        (60, ">", []),
    ],
)
def test_egfr_borderlines(egfr_value, comparator, renal):
    patient = facts(labs=(egfr(egfr_value, comparator=comparator), lab("magnesium", 0.5)))
    cards = mg_cards(patient)
    assert [k for k in cards if "renal" in k] == renal


def test_severe_renal_is_critical():
    patient = facts(labs=(egfr(20), lab("magnesium", 0.8)))
    [renal] = [f for f in run(inp("order-sign", patient, med(MG))) if "renal" in f.card_key]
    assert renal.indicator == "critical"
    assert renal.values["egfr"] == 20


@pytest.mark.parametrize("group", ["ckd_g4_g5", "esrd_dialysis"])
def test_coded_advanced_ckd_is_critical_without_egfr(group):
    cards = mg_cards(facts(conditions=(cond(group),), labs=(lab("magnesium", 0.8),)))
    assert "magnesium-renal-severe" in cards


def test_derived_egfr_is_flagged_as_computed():
    patient = facts(labs=(egfr(25, derived_from="Observation/cr-9"), lab("magnesium", 0.9)))
    [renal] = [f for f in run(inp("order-sign", patient, med(MG))) if "renal" in f.card_key]
    assert renal.values["egfr_computed"] is True
    assert any("CKD-EPI 2021" in e.value for e in renal.evidence)


def test_renal_card_takes_precedence_but_deficiency_check_still_runs():
    cards = mg_cards(facts(labs=(egfr(20),)))
    assert cards == ["magnesium-renal-severe", "magnesium-check-levels"]


def test_low_mg_with_renal_risk_shows_only_the_renal_card_flagged_low():
    patient = facts(labs=(egfr(40), lab("magnesium", 0.5)))
    findings = [
        f for f in run(inp("order-sign", patient, med(MG))) if f.card_key.startswith("magnesium")
    ]
    assert [f.card_key for f in findings] == ["magnesium-renal-moderate"]
    assert findings[0].values["level_low"] is True


def test_no_mg_result_warns_and_orders_mg_and_k():
    [finding] = [
        f
        for f in run(inp("order-select", facts(labs=(egfr(90),)), med(MG)))
        if f.card_key == "magnesium-check-levels"
    ]
    assert finding.indicator == "warning"
    [suggestion] = finding.suggestions
    assert suggestion.kind == "order-labs" and suggestion.labs == ("magnesium", "potassium")


def test_no_mg_result_with_k_on_file_orders_only_mg():
    patient = facts(labs=(egfr(90), lab("potassium", 4.0)))
    [finding] = [
        f
        for f in run(inp("order-select", patient, med(MG)))
        if f.card_key == "magnesium-check-levels"
    ]
    assert finding.suggestions[0].labs == ("magnesium",)
    assert finding.values["companion_missing"] is False


UNKNOWN_STATUS = "1 magnesium result(s) with status 'unknown' were not used."
TOO_OLD = "The latest magnesium result (2024-01-02) is older than 365 days and was not used."


def test_check_levels_names_results_on_file_that_were_not_used():
    notes = (UNKNOWN_STATUS, "2 potassium result(s) with status 'unknown' were not used.", TOO_OLD)
    patient = facts(labs=(egfr(90),), notes=notes)
    [finding] = run(inp("order-sign", patient, med(MG)), "magnesium-deficiency-check")
    assert finding.card_key == "magnesium-check-levels"
    assert finding.values["unused_notes"] == (UNKNOWN_STATUS, TOO_OLD)  # not the K note


def test_check_levels_without_unused_results_has_no_notes():
    notes = ("2 potassium result(s) with status 'unknown' were not used.",)
    patient = facts(labs=(egfr(90),), notes=notes)
    [finding] = run(inp("order-sign", patient, med(MG)), "magnesium-deficiency-check")
    assert finding.values["unused_notes"] == ()


def test_unused_results_do_not_document_a_level():
    patient = facts(labs=(egfr(90), lab("potassium", 4.0)), notes=(UNKNOWN_STATUS,))
    assert mg_cards(patient) == ["magnesium-check-levels"]


@pytest.mark.parametrize(
    ("value", "interpretation", "card"),
    [
        (0.69, None, "magnesium-repletion-info"),
        (0.70, None, "magnesium-not-deficient"),  # exactly at the threshold is not low
        (0.72, "low", "magnesium-repletion-info"),  # the lab's own flag wins
        (0.95, None, "magnesium-not-deficient"),
    ],
)
def test_deficiency_borderlines(value, interpretation, card):
    patient = facts(labs=(egfr(90), lab("magnesium", value, interpretation=interpretation)))
    assert mg_cards(patient) == [card]


MG_DL = 0.41144  # mg/dL -> mmol/L, as the clinical layer converts


@pytest.mark.parametrize(
    ("value", "card"),
    [
        (1.7 * MG_DL, "magnesium-not-deficient"),  # 0.6994: the conventional cut-off itself
        (1.69 * MG_DL, "magnesium-repletion-info"),  # 0.6953
        (0.698, "magnesium-not-deficient"),  # exactly threshold - tolerance: not low
        (0.6979, "magnesium-repletion-info"),
        (0.69, "magnesium-repletion-info"),
        (0.70, "magnesium-not-deficient"),
    ],
)
def test_conversion_rounding_tolerance(value, card):
    assert mg_cards(facts(labs=(egfr(90), lab("magnesium", value)))) == [card]


def test_tolerance_also_decides_the_renal_card_low_flag():
    for value, low in ((1.7 * MG_DL, False), (1.69 * MG_DL, True)):
        patient = facts(labs=(egfr(40), lab("magnesium", value)))
        [renal] = [f for f in run(inp("order-sign", patient, med(MG))) if "renal" in f.card_key]
        assert renal.values["level_low"] is low


def test_less_than_comparator_at_threshold_is_low():
    patient = facts(labs=(egfr(90), lab("magnesium", 0.7, comparator="<")))
    assert mg_cards(patient) == ["magnesium-repletion-info"]


def test_threshold_is_configurable():
    patient = facts(labs=(egfr(90), lab("magnesium", 0.72)))
    cards = mg_cards(patient, thresholds=Thresholds(hypomagnesemia_mmol_per_l=0.75))
    assert cards == ["magnesium-repletion-info"]


HYPOMG = (cond("hypomagnesemia"),)


def test_hypomagnesemia_condition_documents_deficiency_when_no_result():
    [finding] = [
        f
        for f in run(inp("order-sign", facts(labs=(egfr(90),), conditions=HYPOMG), med(MG)))
        if f.card_key.startswith("magnesium")
    ]
    assert finding.card_key == "magnesium-repletion-info"
    assert finding.values["by_condition"] is True
    assert finding.suggestions[0].labs == ("magnesium",)


@pytest.mark.parametrize(
    ("value", "card"),
    [
        (0.8, "magnesium-not-deficient"),  # the current normal result outranks the entry
        (0.70, "magnesium-not-deficient"),
        (0.69, "magnesium-repletion-info"),
    ],
)
def test_current_result_outranks_coded_hypomagnesemia(value, card):
    patient = facts(labs=(egfr(90), lab("magnesium", value)), conditions=HYPOMG)
    assert mg_cards(patient) == [card]


def test_coded_hypomagnesemia_with_low_result_is_documented_by_the_lab():
    patient = facts(labs=(egfr(90), lab("magnesium", 0.6)), conditions=HYPOMG)
    [finding] = [
        f for f in run(inp("order-sign", patient, med(MG))) if f.card_key.startswith("magnesium")
    ]
    assert finding.values["by_lab"] is True and finding.values["by_condition"] is False


def test_renal_card_low_flag_follows_the_current_result_not_the_entry():
    for labs, low in (((egfr(40), lab("magnesium", 0.9)), False), ((egfr(40),), True)):
        patient = facts(labs=labs, conditions=HYPOMG)
        [renal] = [f for f in run(inp("order-sign", patient, med(MG))) if "renal" in f.card_key]
        assert renal.values["level_low"] is low


def test_hypomagnesemia_reason_documents_deficiency_even_with_a_normal_result():
    patient = facts(labs=(egfr(90), lab("magnesium", 0.8)))
    order = med(MG, reasons=("hypomagnesemia",))
    assert mg_cards(patient, order) == ["magnesium-repletion-info"]


def test_hypomagnesemia_reason_documents_deficiency_and_orders_missing_level():
    order = med(MG, reasons=("hypomagnesemia",))
    [finding] = [
        f
        for f in run(inp("order-sign", facts(labs=(egfr(90),)), order))
        if f.card_key.startswith("magnesium")
    ]
    assert finding.card_key == "magnesium-repletion-info"
    assert finding.indicator == "info"
    assert finding.suggestions[0].labs == ("magnesium",)


def test_documented_low_with_unknown_kidney_function_is_info():
    assert mg_cards(facts(labs=(lab("magnesium", 0.5),))) == ["magnesium-repletion-info"]


ANTACID = "aluminum hydroxide / magnesium hydroxide"


@pytest.mark.parametrize(
    ("egfr_value", "cards"),
    [
        (22, ["magnesium-renal-severe"]),
        (29.9, ["magnesium-renal-severe"]),
        (30, ["magnesium-renal-moderate"]),
        (59.9, ["magnesium-renal-moderate"]),
        (60, []),
    ],
)
def test_oral_magnesium_containing_product_gets_only_the_kidney_card(egfr_value, cards):
    order = med("magnesium_containing", display=ANTACID, route="oral")
    # no Mg result on file: a supplement would also get "check levels"; a combination does not
    assert mg_cards(facts(labs=(egfr(egfr_value),)), order) == cards


def test_combination_kidney_card_says_so():
    order = med("magnesium_containing", display=ANTACID, route="oral")
    patient = facts(labs=(egfr(22), lab("magnesium", 0.6)))
    [finding] = run(inp("order-sign", patient, order), "magnesium-renal-risk")
    assert finding.values["combination"] is True and finding.values["level_low"] is True
    supplement = run(inp("order-sign", patient, med(MG)), "magnesium-renal-risk")
    assert supplement[0].values["combination"] is False


@pytest.mark.parametrize(
    ("route", "fires"),
    [("oral", True), (None, True), ("injection", False), ("other", False), ("rectal", False)],
)
def test_magnesium_containing_route(route, fires):
    order = med("magnesium_containing", display="magnesium-containing product", route=route)
    cards = mg_cards(facts(labs=(egfr(10),)), order)
    assert cards == (["magnesium-renal-severe"] if fires else [])


@pytest.mark.parametrize("group", ["ckd_g4_g5", "esrd_dialysis"])
def test_magnesium_containing_with_coded_advanced_ckd(group):
    order = med("magnesium_containing", display=ANTACID, route="oral")
    assert mg_cards(facts(conditions=(cond(group),)), order) == ["magnesium-renal-severe"]


def test_magnesium_containing_patient_view_kidney_card():
    active = med("magnesium_containing", ref="MedicationRequest/a1", display=ANTACID)
    patient = facts(labs=(egfr(20),), conditions=CRAMPS, active=(active,))
    assert mg_cards(patient, active, hook="patient-view") == ["magnesium-renal-severe"]


def test_patient_view_checks_kidney_for_every_supplement():
    active = med(MG, ref="MedicationRequest/a1")
    cards = mg_cards(facts(labs=(egfr(20),), active=(active,)), hook="patient-view")
    assert cards == ["magnesium-renal-severe"]  # not for cramps: no deficiency check


def test_patient_view_deficiency_check_only_for_cramp_supplements():
    active = med(MG, ref="MedicationRequest/a1")
    patient = facts(labs=(egfr(90), lab("magnesium", 0.9)), conditions=CRAMPS, active=(active,))
    assert mg_cards(patient, hook="patient-view") == ["magnesium-not-deficient"]


def test_unselected_magnesium_draft_is_context_only():
    assert mg_cards(facts(labs=(egfr(10),)), med(MG, selected=False)) == []
