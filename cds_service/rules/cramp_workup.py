"""Cramps: look for a cause before treating the symptom (AAN 2010; §1.8, §11.2).

Trigger: patient-view, a muscle cramp on the problem list; order hooks, a (selected) order "for
cramps" (indication.py; Nuedexta never counts). Then, one patient-level card:

- `cramp-secondary-cause` (INFO) / `cramp-secondary-cause-urgent` (WARNING): a work-up result
  is abnormal (low K, Mg or Ca; high CK; high or low TSH; the lab's flag or range first). The
  card names each abnormal result and the likely cause: electrolyte deficit (naming active
  diuretics), statin-associated muscle symptoms (a statin and a high CK), a myopathy (high CK,
  no statin), hypothyroidism (high TSH), an overactive thyroid (low TSH), hypocalcaemia. It also
  offers the missing labs. Urgent: K < 3.0, Mg < 0.5 mmol/L, CK >= 10x its upper limit.
- `cramp-workup` (INFO): nothing abnormal and some of the five labs (Mg, K, Ca, CK, TSH) have no
  result in the lab window: suggest them, and name the mimics and causes to consider
  (radiculopathy, myopathy, hypothyroidism, drugs; in children 22q11.2 deletion and juvenile
  idiopathic arthritis).
- All five on file and normal: silent.
"""

from __future__ import annotations

from cds_service.clinical.lab_table import LAB_LABELS
from cds_service.rules.evidence import condition_evidence, order_evidence
from cds_service.rules.indication import is_cramp_order
from cds_service.rules.secondary import Workup, assess_workup
from cds_service.rules.types import (
    CardSpec,
    Evidence,
    Finding,
    RuleInput,
    SuggestionKind,
    SuggestionSpec,
    ValueKind,
)

RULE_ID = "cramp-workup"
CHILD_AGE = 18

WORKUP_VALUES: dict[str, ValueKind] = {
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
}
SECONDARY_VALUES: dict[str, ValueKind] = {
    "abnormal": "texts",
    "missing": "labs",
    "trigger": "text",
    "ordered": "flag",
    "electrolytes": "flag",
    "diuretics": "texts",
    "statins": "texts",
    "ck_high": "flag",
    "ck_multiple": "number?",
    "tsh_high": "flag",
    "tsh_low": "flag",
    "calcium_low": "flag",
}
LABS: frozenset[SuggestionKind] = frozenset({"order-labs"})
WORKUP = CardSpec(RULE_ID, "cramp-workup", "info", WORKUP_VALUES, LABS, labs_only=True)
SECONDARY = CardSpec(RULE_ID, "cramp-secondary-cause", "info", SECONDARY_VALUES, LABS)
SECONDARY_URGENT = CardSpec(
    RULE_ID, "cramp-secondary-cause-urgent", "warning", SECONDARY_VALUES, LABS
)
CARDS = (WORKUP, SECONDARY, SECONDARY_URGENT)


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
    workup = assess_workup(facts, inp.thresholds)
    if workup.secondary:
        return [_secondary(inp, workup, trigger, evidence)]
    if not workup.missing:
        return []
    evidence.extend(Evidence("No result in the lab window", LAB_LABELS[a]) for a in workup.missing)
    age = facts.age_years
    return [
        WORKUP.finding(
            order=None,
            evidence=evidence,
            values={
                "missing": workup.missing,
                "trigger": trigger,
                "ordered": inp.is_order_hook,
                "child": age is not None and age < CHILD_AGE,
                "del22q11": facts.has_condition("22q11_2_deletion"),
                "jia": facts.has_condition("juvenile_idiopathic_arthritis"),
                "hypocalcemia": facts.has_condition("hypocalcemia"),
                "hypothyroidism": facts.has_condition("hypothyroidism"),
                "radiculopathy": facts.has_condition("radiculopathy"),
                "diuretics": tuple(m.display for m in workup.diuretics),
            },
            suggestions=(SuggestionSpec("order-labs", labs=workup.missing),),
        )
    ]


def _secondary(inp: RuleInput, workup: Workup, trigger: str, evidence: list[Evidence]) -> Finding:
    states = workup.states()
    electrolytes = "potassium" in states or "magnesium" in states
    evidence.extend(
        Evidence("Abnormal result", a.text(), a.lab.when, a.lab.source_id) for a in workup.abnormal
    )
    if electrolytes:
        evidence.extend(order_evidence(m, "Active diuretic") for m in workup.diuretics)
    if "creatine_kinase" in states:
        evidence.extend(order_evidence(m, "Active statin") for m in workup.statins)
    evidence.extend(Evidence("No result in the lab window", LAB_LABELS[a]) for a in workup.missing)
    spec = SECONDARY_URGENT if workup.urgent else SECONDARY
    return spec.finding(
        order=None,
        evidence=evidence,
        values={
            "abnormal": tuple(a.text() for a in workup.abnormal),
            "missing": workup.missing,
            "trigger": trigger,
            "ordered": inp.is_order_hook,
            "electrolytes": electrolytes,
            "diuretics": tuple(m.display for m in workup.diuretics) if electrolytes else (),
            "statins": tuple(m.display for m in workup.statins),
            "ck_high": "creatine_kinase" in states,
            "ck_multiple": workup.ck_multiple,
            "tsh_high": states.get("tsh") == "high",
            "tsh_low": states.get("tsh") == "low",
            "calcium_low": "calcium" in states,
        },
        suggestions=(
            (SuggestionSpec("order-labs", labs=workup.missing),) if workup.missing else ()
        ),
    )
