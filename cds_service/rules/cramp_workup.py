"""Cramp work-up -> INFO: suggest the missing basic labs and a neurologic exam.

Fires in patient-view when the problem list has an active muscle cramp, and in order hooks when
a (selected) order is "for cramps" (see indication.py; Nuedexta never counts). Only the labs
with no result in the lab window are suggested (magnesium, potassium, calcium, creatine kinase,
TSH); nothing fires when all five are on file. The card also names the mimics and causes to
consider: radiculopathy, myopathy, hypothyroidism, drugs (diuretics), and in children
22q11.2 deletion (hypocalcaemia) and juvenile idiopathic arthritis.
"""

from __future__ import annotations

from cds_service.rules.evidence import LAB_LABELS, condition_evidence, order_evidence
from cds_service.rules.indication import is_cramp_order
from cds_service.rules.types import (
    CardSpec,
    Evidence,
    Finding,
    OrderableLab,
    RuleInput,
    SuggestionSpec,
)

RULE_ID = "cramp-workup"
WORKUP_LABS: tuple[OrderableLab, ...] = (
    "magnesium",
    "potassium",
    "calcium",
    "creatine_kinase",
    "tsh",
)
CHILD_AGE = 18

CARD = CardSpec(
    rule_id=RULE_ID,
    key="cramp-workup",
    indicator="info",
    values={
        "missing": "labs",
        "trigger": "text",
        "ordered": "flag",
        "child": "flag",
        "del22q11": "flag",
        "jia": "flag",
        "hypocalcemia": "flag",
        "hypothyroidism": "flag",
        "radiculopathy": "flag",
        "diuretics": "texts",
    },
    suggestions=frozenset({"order-labs"}),
)
CARDS = (CARD,)


def cramp_workup(inp: RuleInput) -> list[Finding]:
    facts = inp.facts
    evidence: list[Evidence] = []
    if inp.is_order_hook:
        triggers = [o for o in inp.targets if is_cramp_order(o, facts).for_cramps]
        if not triggers:
            return []
        trigger = triggers[0].display
        evidence.extend(order_evidence(o, "Order for cramps") for o in triggers)
    else:
        cramps = facts.conditions_in("muscle_cramp")
        if not cramps:
            return []
        trigger = cramps[0].display
        evidence.append(condition_evidence(cramps[0]))
    missing = tuple(a for a in WORKUP_LABS if facts.lab(a) is None)
    if not missing:
        return []
    evidence.extend(Evidence("No result in the lab window", LAB_LABELS[a]) for a in missing)
    diuretics = tuple(m.display for m in facts.takes("diuretic"))
    age = facts.age_years
    return [
        CARD.finding(
            order=None,
            evidence=evidence,
            values={
                "missing": missing,
                "trigger": trigger,
                "ordered": inp.is_order_hook,
                "child": age is not None and age < CHILD_AGE,
                "del22q11": facts.has_condition("22q11_2_deletion"),
                "jia": facts.has_condition("juvenile_idiopathic_arthritis"),
                "hypocalcemia": facts.has_condition("hypocalcemia"),
                "hypothyroidism": facts.has_condition("hypothyroidism"),
                "radiculopathy": facts.has_condition("radiculopathy"),
                "diuretics": diuretics,
            },
            suggestions=(SuggestionSpec("order-labs", labs=missing),),
        )
    ]
