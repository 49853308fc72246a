"""Oral baclofen, drafted or already taken: one card per order listing every concern (§11.3).

Order hooks: each drafted oral baclofen. Patient-view: each ACTIVE oral baclofen (the patient
already takes it). Concerns, in the order the summary names them:
a. eGFR < 30, CKD G4-5, dialysis or end-stage kidney disease, at any age: baclofen is excreted
   unchanged and encephalopathy is reported after small doses (case series; Vlavonou 2014:
   reduce the dose by about 2/3 below CrCl 30; Canadian monograph: ~5 mg/day on dialysis);
b. age >= 65 with eGFR 30-59: AGS Beers 2023 (kidney table): avoid;
c. age >= 65 with no kidney result in the lab window: check kidney function first (the same
   advice the chart gives);
d. hepatic encephalopathy documented: a CNS depressant can precipitate or mask it (EASL 2018);
e. pregnancy documented: no adequate human data (label);
f. order hooks, an order "for cramps": first step above 10 mg/day or any step above 30 mg/day
   (EASL 2018 regimen) -- unless the patient already takes baclofen (a renewal or change of
   a running regimen is not a start).
Beers does not apply in hospice or end-of-life care (its own scope): b and c are then left
out. Intrathecal baclofen gets no card (microgram doses; its own boxed warning). No concern,
no card: a 50-year-old with eGFR 85 starting 10 mg/day, a renewal at 30 mg/day.
"""

from __future__ import annotations

from cds_service.clinical.types import Medication
from cds_service.rules.baclofen_fit import assess_baclofen
from cds_service.rules.evidence import age_evidence, conditions_evidence, fmt, order_evidence
from cds_service.rules.indication import cramp_indication
from cds_service.rules.kidney import KIDNEY_VALUES
from cds_service.rules.scope import beers_applies, current_pregnancy
from cds_service.rules.types import CardSpec, Finding, RuleInput, SuggestionSpec

RULE_ID = "baclofen-safety"
START_MAX_MG_PER_DAY = 10.0  # EASL 2018 (cirrhosis): start 10 mg/day
DAILY_MAX_MG_PER_DAY = 30.0  # EASL 2018 (cirrhosis): up to 30 mg/day

CARD = CardSpec(
    rule_id=RULE_ID,
    key="baclofen-safety",
    indicator="warning",
    values={
        "drug": "text",
        "drafted": "flag",
        "age": "number?",
        **KIDNEY_VALUES,
        "severe_kidney": "flag",
        "older_kidney": "flag",
        "older_no_egfr": "flag",
        "he": "flag",
        "pregnant": "flag",
        "dose_high": "flag",
        "doses": "texts",
        "first_too_high": "flag",
        "max_too_high": "flag",
    },
    suggestions=frozenset({"remove-order"}),
)
CARDS = (CARD,)


def baclofen_safety(inp: RuleInput) -> list[Finding]:
    orders = [o for o in inp.targets if "baclofen_oral" in o.groups]
    if not orders:
        return []
    fit = assess_baclofen(inp)
    age = inp.facts.age_years
    already_taking = any("baclofen_oral" in m.groups for m in inp.facts.active_medications)
    findings = []
    for order in orders:
        beers = beers_applies(inp.facts, order)
        concerns = {
            "severe_kidney": fit.severe_kidney,
            "older_kidney": fit.older_kidney and beers,
            "older_no_egfr": fit.older_no_egfr and beers,
            "he": fit.hepatic_encephalopathy,
            "pregnant": fit.pregnant,
        }
        first_high, peak_high = _dose(inp, order) if inp.is_order_hook else (False, False)
        first_high = first_high and not already_taking  # a running regimen is not a start
        if not (any(concerns.values()) or first_high or peak_high):
            continue
        evidence = [order_evidence(order), *fit.kidney.evidence]
        if age is not None:
            evidence.append(age_evidence(age))
        evidence.extend(conditions_evidence(inp.facts.conditions_in("hepatic_encephalopathy")))
        evidence.extend(conditions_evidence(current_pregnancy(inp.facts)))
        suggestions = (
            (SuggestionSpec("remove-order", order_reference=order.reference),)
            if any(concerns.values()) and inp.is_order_hook and order.reference
            else ()
        )
        findings.append(
            CARD.finding(
                order=order,
                evidence=evidence,
                suggestions=suggestions,
                values={
                    "drug": order.display,
                    "drafted": inp.is_order_hook,
                    "age": age,
                    **fit.kidney.values(),
                    **concerns,
                    "dose_high": first_high or peak_high,
                    "doses": tuple(f"{fmt(d)} mg/day" for d in order.daily_doses_mg),
                    "first_too_high": first_high,
                    "max_too_high": peak_high,
                },
            )
        )
    return findings


def _dose(inp: RuleInput, order: Medication) -> tuple[bool, bool]:
    """(first step too high, some step too high) against the EASL cramp regimen; only for an
    order "for cramps" (spasticity: label 5 mg TID up to 80 mg/day is another regimen)."""
    if not order.daily_doses_mg or not cramp_indication(order, inp.facts).for_cramps:
        return False, False
    doses = order.daily_doses_mg
    return doses[0] > START_MAX_MG_PER_DAY, max(doses) > DAILY_MAX_MG_PER_DAY
