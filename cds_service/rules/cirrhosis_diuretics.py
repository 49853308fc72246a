"""Cramps in cirrhosis on a diuretic -> INFO (EASL 2018 decompensated cirrhosis CPG).

EASL: reduce or stop diuretics if cramps are severe or incapacitating; human albumin
20-40 g/week or baclofen 10 -> 30 mg/day are options (limited evidence, not ranked, F5);
caution with hepatic encephalopathy or eGFR < 60. Needs cirrhosis and muscle cramp on the
problem list. Patient-view: one card listing the active diuretics; order hooks: one card per
drafted diuretic.
"""

from __future__ import annotations

from cds_service.rules.evidence import condition_evidence, conditions_evidence, order_evidence
from cds_service.rules.kidney import assess_kidney
from cds_service.rules.types import CardSpec, Finding, RuleInput

RULE_ID = "cirrhosis-cramps-diuretics"

CARD = CardSpec(
    rule_id=RULE_ID,
    key="cirrhosis-cramps-diuretics",
    indicator="info",
    values={
        "diuretics": "texts",
        "drafted": "flag",
        "he": "flag",
        "kidney_impaired": "flag",
        "egfr": "number?",
        "egfr_date": "date?",
        "egfr_computed": "flag",
        "dialysis": "flag",
        "ckd_g4_g5": "flag",
    },
)
CARDS = (CARD,)


def cirrhosis_cramps_diuretics(inp: RuleInput) -> list[Finding]:
    facts = inp.facts
    cirrhosis, cramps = facts.conditions_in("cirrhosis"), facts.conditions_in("muscle_cramp")
    if not (cirrhosis and cramps):
        return []
    diuretics = [o for o in inp.targets if "diuretic" in o.groups]
    if not diuretics:
        return []
    kidney = assess_kidney(facts, inp.thresholds)
    he = facts.conditions_in("hepatic_encephalopathy")
    context = [
        condition_evidence(cirrhosis[0]),
        condition_evidence(cramps[0]),
        *conditions_evidence(he),
        *kidney.evidence,
    ]
    shared = {"he": bool(he), "kidney_impaired": kidney.impaired, **kidney.values()}
    if not inp.is_order_hook:
        return [
            CARD.finding(
                order=None,
                evidence=[*(order_evidence(d, "Active diuretic") for d in diuretics), *context],
                values={
                    "diuretics": tuple(d.display for d in diuretics),
                    "drafted": False,
                    **shared,
                },
            )
        ]
    return [
        CARD.finding(
            order=d,
            evidence=[order_evidence(d), *context],
            values={"diuretics": (d.display,), "drafted": True, **shared},
        )
        for d in diuretics
    ]
