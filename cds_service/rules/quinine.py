"""Quinine for cramps -> WARNING.

FDA: unapproved quinine ordered off the market with a caution against leg-cramp use (Dec 2006);
Qualaquin boxed warning (Nov 2009); Drug Safety Communication + REMS (Jul 2010). AAN 2010:
effective but avoid routine use. No card when the order is for malaria or babesiosis (reason, or
problem list when there is no explicit cramp reason).
"""

from __future__ import annotations

from cds_service.rules.baclofen_fit import assess_baclofen
from cds_service.rules.evidence import order_evidence
from cds_service.rules.indication import PROPER_USE, cramp_indication
from cds_service.rules.offers import SWAP_SUGGESTIONS, swap_suggestions, swap_values
from cds_service.rules.types import CardSpec, Finding, RuleInput

RULE_ID = "quinine-for-cramps"

CARD = CardSpec(
    rule_id=RULE_ID,
    key="quinine-for-cramps",
    indicator="warning",
    values={
        "drug": "text",
        "basis": "text",
        "baclofen_offer": "flag",
        "baclofen_start_low": "flag",
        "cirrhosis": "flag",
    },
    suggestions=SWAP_SUGGESTIONS,
)
CARDS = (CARD,)


def quinine_for_cramps(inp: RuleInput) -> list[Finding]:
    findings = []
    for order in inp.targets:
        if "quinine" not in order.groups:
            continue
        indication = cramp_indication(order, inp.facts, PROPER_USE["quinine"])
        if not indication.for_cramps:
            continue
        fit = assess_baclofen(inp)
        suggestions = swap_suggestions(inp, order, fit)
        findings.append(
            CARD.finding(
                order=order,
                evidence=(order_evidence(order), *indication.evidence),
                values={
                    "drug": order.display,
                    "basis": indication.basis,
                    **swap_values(suggestions, fit),
                },
                suggestions=suggestions,
            )
        )
    return findings
