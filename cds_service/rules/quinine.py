"""Quinine for cramps, or with no documented proper use -> WARNING.

FDA: unapproved quinine ordered off the market with a caution against leg-cramp use (Dec 2006);
Qualaquin boxed warning (Nov 2009); Drug Safety Communication + REMS (Jul 2010). AAN 2010:
effective but avoid routine use. Quinine is approved only for malaria, and leg cramps are its
most common off-label use, so the card also fires (worded "no malaria indication documented",
`no_indication`, no baclofen swap) when nothing links the order to cramps and no malaria or
babesiosis is documented (as the order's reason or on the problem list). No card when the
order is for malaria or babesiosis (reason, or problem list when there is no explicit cramp
reason).
"""

from __future__ import annotations

from cds_service.clinical.types import Medication
from cds_service.rules.baclofen_fit import BaclofenFit, assess_baclofen
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
        "no_indication": "flag",
        "baclofen_offer": "flag",
        "baclofen_start_low": "flag",
        "cirrhosis": "flag",
    },
    suggestions=SWAP_SUGGESTIONS,
)
CARDS = (CARD,)


def quinine_for_cramps(inp: RuleInput) -> list[Finding]:
    findings = []
    fit: BaclofenFit | None = None
    for order in inp.targets:
        if "quinine" not in order.groups:
            continue
        indication = cramp_indication(order, inp.facts, PROPER_USE["quinine"])
        if not indication.for_cramps and _proper_use_documented(order, inp):
            continue
        fit = fit or assess_baclofen(inp)  # once per call: it depends on the patient only
        suggestions = swap_suggestions(inp, order, fit, offer_baclofen=indication.for_cramps)
        findings.append(
            CARD.finding(
                order=order,
                evidence=(order_evidence(order), *indication.evidence),
                values={
                    "drug": order.display,
                    "basis": indication.basis,
                    "no_indication": not indication.for_cramps,
                    **swap_values(suggestions, fit),
                },
                suggestions=suggestions,
            )
        )
    return findings


def _proper_use_documented(order: Medication, inp: RuleInput) -> bool:
    """Malaria or babesiosis as the order's reason (coded or in words) or on the problem list."""
    proper = PROPER_USE["quinine"]
    return bool(order.stated_groups & proper) or any(inp.facts.has_condition(g) for g in proper)
