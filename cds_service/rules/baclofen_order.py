"""Drafted oral baclofen (order hooks only; intrathecal baclofen gets no titration card).

- baclofen-dose: an order "for cramps" whose first step is > 10 mg/day or any step is
  > 30 mg/day -> WARNING (the EASL cirrhosis regimen starts at 10 mg/day, max 30 mg/day).
  Orders for other reasons (e.g. spasticity: label 5 mg TID up to 80 mg/day) are not judged
  against the cramp regimen. A correct 10 -> 20 -> 30 schedule gets no card.
- baclofen-older-adult-kidney: age >= 65 with eGFR < 60 or dialysis -> WARNING (AGS Beers 2023
  kidney table: avoid; if unavoidable, lowest dose and monitor for CNS toxicity).
"""

from __future__ import annotations

from cds_service.rules.evidence import age_evidence, fmt, order_evidence
from cds_service.rules.indication import cramp_indication
from cds_service.rules.kidney import assess_kidney
from cds_service.rules.types import CardSpec, Finding, RuleInput, SuggestionSpec, ValueKind

START_MAX_MG_PER_DAY = 10.0  # EASL 2018 (cirrhosis): start 10 mg/day
DAILY_MAX_MG_PER_DAY = 30.0  # EASL 2018 (cirrhosis): up to 30 mg/day

DOSE = CardSpec(
    rule_id="baclofen-dose",
    key="baclofen-dose-high",
    indicator="warning",
    values={
        "drug": "text",
        "doses": "texts",
        "first_dose": "number",
        "max_dose": "number",
        "first_too_high": "flag",
        "max_too_high": "flag",
        "basis": "text",
    },
)
KIDNEY_VALUES: dict[str, ValueKind] = {
    "drug": "text",
    "age": "number",
    "egfr": "number?",
    "egfr_date": "date?",
    "egfr_computed": "flag",
    "dialysis": "flag",
    "ckd_g4_g5": "flag",
}
OLDER_KIDNEY = CardSpec(
    rule_id="baclofen-older-adult-kidney",
    key="baclofen-older-adult-kidney",
    indicator="warning",
    values=KIDNEY_VALUES,
    suggestions=frozenset({"remove-order"}),
)
CARDS = (DOSE, OLDER_KIDNEY)


def baclofen_dose(inp: RuleInput) -> list[Finding]:
    if not inp.is_order_hook:
        return []
    findings = []
    for order in inp.targets:
        if "baclofen_oral" not in order.groups or not order.daily_doses_mg:
            continue
        indication = cramp_indication(order, inp.facts)
        if not indication.for_cramps:
            continue
        first, peak = order.daily_doses_mg[0], max(order.daily_doses_mg)
        first_high = first > START_MAX_MG_PER_DAY
        peak_high = peak > DAILY_MAX_MG_PER_DAY
        if not (first_high or peak_high):
            continue
        findings.append(
            DOSE.finding(
                order=order,
                evidence=(order_evidence(order), *indication.evidence),
                values={
                    "drug": order.display,
                    "doses": tuple(f"{fmt(d)} mg/day" for d in order.daily_doses_mg),
                    "first_dose": first,
                    "max_dose": peak,
                    "first_too_high": first_high,
                    "max_too_high": peak_high,
                    "basis": indication.basis,
                },
            )
        )
    return findings


def baclofen_older_adult_kidney(inp: RuleInput) -> list[Finding]:
    age = inp.facts.age_years
    if not inp.is_order_hook or age is None or age < inp.thresholds.older_adult_age:
        return []
    kidney = assess_kidney(inp.facts, inp.thresholds)
    # Beers: eGFR < 60 or dialysis (CKD G4/G5 coded implies eGFR < 30). An unstaged CKD
    # entry without an eGFR is not enough to say "avoid".
    if not (kidney.band == "severe" or (kidney.band == "moderate" and kidney.egfr)):
        return []
    findings = []
    for order in inp.targets:
        if "baclofen_oral" not in order.groups:
            continue
        findings.append(
            OLDER_KIDNEY.finding(
                order=order,
                evidence=(order_evidence(order), age_evidence(age), *kidney.evidence),
                values={"drug": order.display, "age": age, **kidney.values()},
                suggestions=(
                    (SuggestionSpec("remove-order", order_reference=order.reference),)
                    if order.reference
                    else ()
                ),
            )
        )
    return findings
