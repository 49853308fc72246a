"""cirrhosis-cramps: the EASL 2018 card, and the only one-click baclofen order."""

from __future__ import annotations

import pytest

from cds_service.rules.cirrhosis_cramps import RULE_ID
from tests.rules.conftest import all_labs, cond, egfr, facts, inp, keys, lab, med, run

CIRRHOSIS_CRAMPS = (cond("cirrhosis"), cond("muscle_cramp"))


def chart(**kwargs):
    kwargs.setdefault("conditions", CIRRHOSIS_CRAMPS)
    kwargs.setdefault("labs", all_labs())
    return run(inp("patient-view", facts(**kwargs)), RULE_ID)


def test_fit_adult_gets_the_easl_order():
    [finding] = chart(age=55)
    assert (finding.card_key, finding.indicator) == ("cirrhosis-cramps", "info")
    [suggestion] = finding.suggestions
    assert (suggestion.kind, suggestion.schedule) == ("add-baclofen", "easl-cirrhosis")


@pytest.mark.parametrize(
    ("age", "labs", "extra", "flag"),
    [
        (55, all_labs(egfr=25), (), "severe_kidney"),
        (55, all_labs(), (cond("esrd_dialysis"),), "severe_kidney"),
        (70, all_labs(egfr=45), (), "older_kidney"),
        (70, (lab("magnesium", 0.8),), (), "older_no_egfr"),
        (55, all_labs(), (cond("hepatic_encephalopathy"),), "he"),
        (30, all_labs(), (cond("pregnancy"),), "pregnant"),
        (12, all_labs(), (), "child"),
        (None, all_labs(), (), "age_unknown"),
        (55, all_labs(potassium=3.0), (), "secondary"),  # treat the cause first
    ],
)
def test_no_one_click_order_when_baclofen_does_not_fit(age, labs, extra, flag):
    [finding] = chart(age=age, labs=labs, conditions=(*CIRRHOSIS_CRAMPS, *extra))
    assert finding.suggestions == ()
    assert finding.values[flag] is True and finding.values["offer"] is False


@pytest.mark.parametrize(("age", "egfr_value"), [(70, 75), (50, 45)])
def test_start_low_for_older_adults_or_moderate_kidney_function(age, egfr_value):
    [finding] = chart(age=age, labs=all_labs(egfr=egfr_value))
    assert finding.suggestions[0].schedule == "start-low"


def test_names_active_diuretics():
    diuretic = med("diuretic", ref="MedicationRequest/f1", display="furosemide 40 MG Oral Tablet")
    [finding] = chart(age=60, active=(diuretic,))
    assert finding.values["diuretics"] == ("furosemide 40 MG Oral Tablet",)


def test_already_on_baclofen_and_no_diuretic_is_silent():
    baclofen = med("baclofen_oral", ref="MedicationRequest/b1")
    assert chart(age=60, active=(baclofen,)) == []
    diuretic = med("diuretic", ref="MedicationRequest/f1")
    [finding] = chart(age=60, active=(baclofen, diuretic))
    assert finding.values["already_on"] and finding.suggestions == ()


@pytest.mark.parametrize("conditions", [(cond("cirrhosis"),), (cond("muscle_cramp"),), ()])
def test_needs_both_cirrhosis_and_cramps(conditions):
    assert chart(age=60, conditions=conditions) == []


def test_order_hooks_one_card_per_drafted_diuretic():
    patient = facts(age=60, labs=(egfr(50),), conditions=CIRRHOSIS_CRAMPS)
    drafts = (
        med("diuretic", ref="MedicationRequest/d1", display="furosemide"),
        med("diuretic", ref="MedicationRequest/d2", display="spironolactone"),
        med("quinine", ref="MedicationRequest/d3", selected=False),
    )
    found = run(inp("order-sign", patient, *drafts), RULE_ID)
    assert [f.values["diuretic"] for f in found] == ["furosemide", "spironolactone"]
    assert all(f.card_key == "cirrhosis-cramps-diuretic-order" for f in found)
    assert all(f.values["kidney_impaired"] for f in found)


def test_idiopathic_cramps_never_get_a_baclofen_order_anywhere():
    patient = facts(age=50, labs=all_labs(), conditions=(cond("muscle_cramp"),))
    findings = run(inp("patient-view", patient))
    assert not any(s.kind == "add-baclofen" for f in findings for s in f.suggestions)
    assert "cirrhosis-cramps" not in keys(findings)
