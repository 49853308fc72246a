"""Benzodiazepines in older adults -> WARNING (AGS Beers 2023 Table 2: avoid).

Cites Beers, not AAN (F10: the AAN review did not evaluate benzodiazepines). No card under 65,
nor for the Beers exceptions: a seizure disorder (condition or order reason), REM sleep
behaviour disorder, alcohol or benzodiazepine withdrawal, generalized anxiety disorder
(benzodiazepine_beers_exception), or a rectal/nasal/buccal seizure-rescue product.
"""

from __future__ import annotations

from cds_service.rules.baclofen_fit import assess_baclofen
from cds_service.rules.evidence import age_evidence, order_evidence
from cds_service.rules.indication import cramp_indication
from cds_service.rules.offers import SWAP_SUGGESTIONS, swap_suggestions, swap_values
from cds_service.rules.types import CardSpec, Finding, RuleInput

RULE_ID = "benzodiazepine-older-adult"
EXCEPTION_GROUPS = frozenset({"seizure_disorder", "benzodiazepine_beers_exception"})

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
    if any(inp.facts.has_condition(g) for g in EXCEPTION_GROUPS):
        return []
    findings = []
    for order in inp.targets:
        if "benzodiazepine" not in order.groups:
            continue
        if "benzodiazepine_nonoral_seizure_route" in order.groups:
            continue
        if order.reason_groups & EXCEPTION_GROUPS:
            continue
        # Explicit cramp reason or text only: benzodiazepines are often ordered without a
        # coded reason for anxiety or sleep, so the problem list says little here.
        indication = cramp_indication(order, inp.facts, use_problem_list=False)
        fit = assess_baclofen(inp)
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
