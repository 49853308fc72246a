"""Cyclobenzaprine and the other Beers skeletal muscle relaxants.

- age >= 65, any indication -> WARNING (AGS Beers 2023 Table 2: avoid skeletal muscle
  relaxants; anticholinergic effects, sedation, fractures). Cyclobenzaprine and the
  other_muscle_relaxant group alike. Not in hospice or end-of-life care (Beers' own scope,
  scope.py); a cramp order there still gets the cramp card below.
- age < 65 (or unknown), or an older adult in end-of-life care, and cyclobenzaprine "for
  cramps" -> WARNING (label indication is short-term adjunct for acute musculoskeletal spasm;
  AAN 2010 did not evaluate cyclobenzaprine for cramps).
  No card when for low back pain or spasm.
The baclofen alternative is offered only when the order is for cramps.
"""

from __future__ import annotations

from cds_service.rules.baclofen_fit import BaclofenFit, assess_baclofen
from cds_service.rules.evidence import age_evidence, order_evidence
from cds_service.rules.indication import PROPER_USE, cramp_indication
from cds_service.rules.offers import SWAP_SUGGESTIONS, swap_suggestions, swap_values
from cds_service.rules.scope import beers_applies
from cds_service.rules.types import CardSpec, Finding, RuleInput

RULE_ID = "skeletal-muscle-relaxant"
GROUPS = frozenset({"cyclobenzaprine", "other_muscle_relaxant"})

OLDER_ADULT = CardSpec(
    rule_id=RULE_ID,
    key="muscle-relaxant-older-adult",
    indicator="warning",
    values={
        "drug": "text",
        "age": "number",
        "for_cramps": "flag",
        "cyclobenzaprine": "flag",
        "basis": "text",
        "baclofen_offer": "flag",
        "baclofen_start_low": "flag",
        "cirrhosis": "flag",
    },
    suggestions=SWAP_SUGGESTIONS,
)
FOR_CRAMPS = CardSpec(
    rule_id=RULE_ID,
    key="cyclobenzaprine-for-cramps",
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
CARDS = (OLDER_ADULT, FOR_CRAMPS)


def skeletal_muscle_relaxant(inp: RuleInput) -> list[Finding]:
    findings = []
    age = inp.facts.age_years
    older = age is not None and age >= inp.thresholds.older_adult_age
    fit: BaclofenFit | None = None
    for order in inp.targets:
        groups = order.groups & GROUPS
        if not groups:
            continue
        group = "cyclobenzaprine" if "cyclobenzaprine" in groups else "other_muscle_relaxant"
        indication = cramp_indication(order, inp.facts, PROPER_USE[group])
        fit = fit or assess_baclofen(inp)  # once per call: it depends on the patient only
        suggestions = swap_suggestions(inp, order, fit, offer_baclofen=indication.for_cramps)
        evidence = (order_evidence(order), *indication.evidence)
        if older and age is not None and beers_applies(inp.facts, order):
            findings.append(
                OLDER_ADULT.finding(
                    order=order,
                    evidence=(*evidence, age_evidence(age)),
                    values={
                        "drug": order.display,
                        "age": age,
                        "for_cramps": indication.for_cramps,
                        "cyclobenzaprine": group == "cyclobenzaprine",
                        "basis": indication.basis,
                        **swap_values(suggestions, fit),
                    },
                    suggestions=suggestions,
                )
            )
        elif group == "cyclobenzaprine" and indication.for_cramps:
            findings.append(
                FOR_CRAMPS.finding(
                    order=order,
                    evidence=evidence,
                    values={
                        "drug": order.display,
                        "basis": indication.basis,
                        **swap_values(suggestions, fit),
                    },
                    suggestions=suggestions,
                )
            )
    return findings
