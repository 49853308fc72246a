"""Quinidine for cramps -> WARNING, framed apart from quinine (F1).

Quinidine is a class Ia antiarrhythmic, not a cramp drug; the FDA quinine actions do not name
it, so the card cites the quinidine label. Nuedexta (dextromethorphan/quinidine, for
pseudobulbar affect) never fires. No card when the order is for an arrhythmia or for malaria
(IV quinidine gluconate was the US severe-malaria treatment until 2019, §11.4): coded reason,
the order's own words, or the problem list when there is no explicit cramp reason.
"""

from __future__ import annotations

from cds_service.rules.baclofen_fit import BaclofenFit, assess_baclofen
from cds_service.rules.evidence import order_evidence
from cds_service.rules.indication import PROPER_USE, cramp_indication
from cds_service.rules.offers import SWAP_SUGGESTIONS, swap_suggestions, swap_values
from cds_service.rules.types import CardSpec, Finding, RuleInput

RULE_ID = "quinidine-not-for-cramps"

CARD = CardSpec(
    rule_id=RULE_ID,
    key="quinidine-not-for-cramps",
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


def quinidine_not_for_cramps(inp: RuleInput) -> list[Finding]:
    findings = []
    fit: BaclofenFit | None = None
    for order in inp.targets:
        if "quinidine" not in order.groups or "nuedexta" in order.groups:
            continue
        indication = cramp_indication(order, inp.facts, PROPER_USE["quinidine"])
        if not indication.for_cramps:
            continue
        fit = fit or assess_baclofen(inp)  # once per call: it depends on the patient only
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
