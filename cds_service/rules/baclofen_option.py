"""Baclofen as a cramp option (patient-view only): active muscle cramp, not on baclofen.

F3: the 10 -> 30 mg/day weekly titration is the EASL 2018 regimen for cramps in cirrhosis;
baclofen is off-label for cramps everywhere and AAN 2010 does not list it for idiopathic
cramps, so the non-cirrhosis card says there is no guideline support. The guard-rails
(baclofen_fit.py) pick the card:
- age >= 65 with eGFR < 60 / dialysis (Beers 2023: avoid), age < 65 with eGFR < 30 / CKD G4-G5
  / dialysis, or hepatic encephalopathy -> WARNING caution card, no order suggested;
- otherwise an INFO card; it carries the create-MedicationRequest suggestion when a schedule
  fits (not when age is unknown or an older adult has no eGFR in the window).
No card at all under 18: the schedules are adult regimens and paediatric dosing is out of
scope (the cramp work-up card, which knows about children, still runs).
"""

from __future__ import annotations

from cds_service.rules.baclofen_fit import BaclofenFit, assess_baclofen
from cds_service.rules.evidence import age_evidence, condition_evidence, conditions_evidence
from cds_service.rules.types import CardSpec, Finding, RuleInput, SuggestionSpec, ValueKind

RULE_ID = "baclofen-cramp-option"

VALUES: dict[str, ValueKind] = {
    "condition": "text",
    "condition_date": "date?",
    "age": "number?",
    "egfr": "number?",
    "egfr_date": "date?",
    "egfr_computed": "flag",
    "dialysis": "flag",
    "ckd_g4_g5": "flag",
    "cirrhosis": "flag",
    "he": "flag",
    "older_kidney": "flag",
    "older_no_egfr": "flag",
    "severe_kidney": "flag",
    "age_unknown": "flag",
    "start_low_older": "flag",
    "start_low_kidney": "flag",
    "offer": "flag",
}
CIRRHOSIS = CardSpec(
    RULE_ID, "baclofen-option-cirrhosis", "info", VALUES, frozenset({"add-baclofen"})
)
IDIOPATHIC = CardSpec(
    RULE_ID, "baclofen-option-idiopathic", "info", VALUES, frozenset({"add-baclofen"})
)
CAUTION = CardSpec(RULE_ID, "baclofen-caution", "warning", VALUES)
CARDS = (CIRRHOSIS, IDIOPATHIC, CAUTION)


def _values(fit: BaclofenFit, condition: str, inp: RuleInput) -> dict[str, object]:
    cramp = inp.facts.conditions_in("muscle_cramp")[0]
    kidney = fit.kidney.values()
    return {
        "condition": condition,
        "condition_date": cramp.onset,
        "age": inp.facts.age_years,
        **kidney,
        "cirrhosis": fit.cirrhosis,
        "he": fit.hepatic_encephalopathy,
        "older_kidney": fit.older_kidney,
        "older_no_egfr": fit.older_no_egfr,
        "severe_kidney": fit.severe_kidney,
        "age_unknown": fit.age_unknown,
        "start_low_older": fit.start_low_older,
        "start_low_kidney": fit.start_low_kidney,
        "offer": fit.offer,
    }


def baclofen_cramp_option(inp: RuleInput) -> list[Finding]:
    if inp.hook != "patient-view":
        return []
    cramps = inp.facts.conditions_in("muscle_cramp")
    if not cramps:
        return []
    fit = assess_baclofen(inp)
    if fit.already_on or fit.child:
        return []
    evidence = [condition_evidence(cramps[0]), *fit.kidney.evidence]
    if inp.facts.age_years is not None:
        evidence.append(age_evidence(inp.facts.age_years))
    evidence.extend(conditions_evidence(inp.facts.conditions_in("cirrhosis")))
    evidence.extend(conditions_evidence(inp.facts.conditions_in("hepatic_encephalopathy")))
    values = _values(fit, cramps[0].display, inp)
    if fit.older_kidney or fit.severe_kidney or fit.hepatic_encephalopathy:
        return [CAUTION.finding(order=None, evidence=evidence, values=values)]
    spec = CIRRHOSIS if fit.cirrhosis else IDIOPATHIC
    suggestions = (SuggestionSpec("add-baclofen", schedule=fit.schedule),) if fit.schedule else ()
    return [spec.finding(order=None, evidence=evidence, values=values, suggestions=suggestions)]
