"""cirrhosis-cramps-diuretics: EASL 2018 advice when cramps, cirrhosis and a diuretic meet."""

from __future__ import annotations

from cds_service.rules.cirrhosis_diuretics import RULE_ID
from tests.rules.conftest import cond, egfr, facts, inp, med, run

BOTH = (cond("cirrhosis"), cond("muscle_cramp"))


def test_patient_view_one_card_listing_active_diuretics():
    active = (
        med("diuretic", ref="MedicationRequest/f", display="furosemide 40 MG"),
        med("diuretic", ref="MedicationRequest/s", display="spironolactone 100 MG"),
    )
    [finding] = run(inp("patient-view", facts(conditions=BOTH, active=active)), RULE_ID)
    assert finding.indicator == "info" and finding.order is None
    assert finding.values["diuretics"] == ("furosemide 40 MG", "spironolactone 100 MG")


def test_order_hook_fires_per_drafted_diuretic():
    [finding] = run(inp("order-select", facts(conditions=BOTH), med("diuretic")), RULE_ID)
    assert finding.values["drafted"] is True


def test_needs_cirrhosis_and_cramps_and_a_diuretic():
    active = (med("diuretic"),)
    assert run(inp("patient-view", facts(conditions=BOTH[:1], active=active)), RULE_ID) == []
    assert run(inp("patient-view", facts(conditions=BOTH[1:], active=active)), RULE_ID) == []
    assert run(inp("patient-view", facts(conditions=BOTH)), RULE_ID) == []


def test_flags_encephalopathy_and_kidney_for_baclofen_caution():
    conditions = (*BOTH, cond("hepatic_encephalopathy"))
    patient = facts(conditions=conditions, labs=(egfr(45),), active=(med("diuretic"),))
    [finding] = run(inp("patient-view", patient), RULE_ID)
    assert finding.values["he"] is True and finding.values["kidney_impaired"] is True
