"""Benzodiazepines in older adults -> WARNING (AGS Beers 2023 Table 2: avoid).

Cites Beers, not AAN (F10: the AAN review did not evaluate benzodiazepines). No card under 65,
and none within Beers 2023's own scope and exceptions (§1.4, §11.5):
- hospice, palliative or end-of-life care (problem list or the order's words): Beers does not
  apply there;
- the exceptions Beers names: seizure disorders, REM sleep behaviour disorder, alcohol or
  benzodiazepine withdrawal, severe generalized anxiety disorder, peri-procedural use -- as
  the order's coded reason or in its own words (reason text, note, dosage text; negation
  honoured: "no seizures" is no exception), or, for an order with no reason at all, a listed
  condition on the problem list (presumed to be what it is for);
- injectable midazolam (labelled for procedural sedation and anaesthesia) and rectal, nasal or
  buccal seizure-rescue products.
The exception covers the exceptional use, not every order: an order for cramps gets the card
even with epilepsy on the problem list, and so does one with another stated reason.
"""

from __future__ import annotations

from cds_service.rules.baclofen_fit import BaclofenFit, assess_baclofen
from cds_service.rules.evidence import age_evidence, order_evidence
from cds_service.rules.indication import cramp_indication
from cds_service.rules.offers import SWAP_SUGGESTIONS, swap_suggestions, swap_values
from cds_service.rules.scope import beers_applies
from cds_service.rules.types import CardSpec, Finding, RuleInput

RULE_ID = "benzodiazepine-older-adult"
# Problem-list groups that excuse an order with no reason.
EXCEPTION_GROUPS = frozenset({"seizure_disorder", "benzodiazepine_beers_exception"})
# ... and what the order itself may state, coded or in words.
STATED_EXCEPTIONS = EXCEPTION_GROUPS | {
    "alcohol_or_benzodiazepine_withdrawal",
    "rem_sleep_behaviour_disorder",
    "generalized_anxiety_disorder",
    "procedure",
}
EXCEPTION_PRODUCTS = frozenset({"benzodiazepine_nonoral_seizure_route", "midazolam_injection"})

CARD = CardSpec(
    rule_id=RULE_ID,
    key="benzodiazepine-older-adult",
    indicator="warning",
    values={
        "drug": "text",
        "age": "number",
        "for_cramps": "flag",
        "baclofen_offer": "flag",
        "baclofen_start_low": "flag",
        "cirrhosis": "flag",
    },
    suggestions=SWAP_SUGGESTIONS,
)
CARDS = (CARD,)


def benzodiazepine_older_adult(inp: RuleInput) -> list[Finding]:
    age = inp.facts.age_years
    if age is None or age < inp.thresholds.older_adult_age:
        return []
    exception_listed = any(inp.facts.has_condition(g) for g in EXCEPTION_GROUPS)
    findings = []
    fit: BaclofenFit | None = None
    for order in inp.targets:
        if "benzodiazepine" not in order.groups or order.groups & EXCEPTION_PRODUCTS:
            continue
        if order.route == "injection" and "midazolam" in order.display.lower():
            continue  # midazolam injection named only in words: procedural sedation
        if order.stated_groups & STATED_EXCEPTIONS or not beers_applies(inp.facts, order):
            continue
        # Explicit cramp reason or text only: benzodiazepines are often ordered without a
        # coded reason for anxiety or sleep, so the problem list says little here.
        indication = cramp_indication(order, inp.facts, use_problem_list=False)
        if exception_listed and not indication.for_cramps and not order.has_reason:
            continue  # no reason given: presumed to be for the listed exception
        fit = fit or assess_baclofen(inp)  # once per call: it depends on the patient only
        suggestions = swap_suggestions(inp, order, fit, offer_baclofen=indication.for_cramps)
        findings.append(
            CARD.finding(
                order=order,
                evidence=(order_evidence(order), age_evidence(age), *indication.evidence),
                values={
                    "drug": order.display,
                    "age": age,
                    "for_cramps": indication.for_cramps,
                    **swap_values(suggestions, fit),
                },
                suggestions=suggestions,
            )
        )
    return findings
