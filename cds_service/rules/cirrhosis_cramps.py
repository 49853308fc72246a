"""Cramps in cirrhosis -> INFO (EASL 2018 decompensated cirrhosis CPG; F3, F5).

EASL: muscle cramps in cirrhosis may be treated with human albumin 20-40 g/week or baclofen
10 mg/day raised by 10 mg/day each week to 30 mg/day (limited evidence, not ranked); reduce or
stop diuretics if cramps are severe or incapacitating. Needs cirrhosis and muscle cramp on the
problem list.

- Patient-view: one card. It names the active diuretics, and offers the one-click baclofen
  order only when baclofen fits (baclofen_fit.py: not already taking it, adult of known age,
  not pregnant, no severe kidney disease, Beers kidney gate at 65+, no hepatic encephalopathy,
  no abnormal work-up result); otherwise it says in words why not. Silent when the patient
  already takes baclofen and no diuretic (nothing to add).
- Order hooks: one card per drafted diuretic.
"""

from __future__ import annotations

from cds_service.rules.baclofen_fit import BaclofenFit, assess_baclofen
from cds_service.rules.evidence import (
    age_evidence,
    condition_evidence,
    conditions_evidence,
    order_evidence,
)
from cds_service.rules.kidney import KIDNEY_VALUES, assess_kidney
from cds_service.rules.scope import current_pregnancy
from cds_service.rules.types import (
    CardSpec,
    Evidence,
    Finding,
    RuleInput,
    SuggestionSpec,
    ValueKind,
)

RULE_ID = "cirrhosis-cramps"

VALUES: dict[str, ValueKind] = {
    "diuretics": "texts",
    "age": "number?",
    **KIDNEY_VALUES,
    "he": "flag",
    "offer": "flag",
    "start_low": "flag",
    "already_on": "flag",
    "pregnant": "flag",
    "severe_kidney": "flag",
    "older_kidney": "flag",
    "older_no_egfr": "flag",
    "age_unknown": "flag",
    "child": "flag",
    "secondary": "flag",
}
CHART = CardSpec(RULE_ID, "cirrhosis-cramps", "info", VALUES, frozenset({"add-baclofen"}))
DIURETIC_ORDER = CardSpec(
    RULE_ID,
    "cirrhosis-cramps-diuretic-order",
    "info",
    {
        "diuretic": "text",
        "he": "flag",
        "kidney_impaired": "flag",
        **KIDNEY_VALUES,
    },
)
CARDS = (CHART, DIURETIC_ORDER)


def cirrhosis_cramps(inp: RuleInput) -> list[Finding]:
    facts = inp.facts
    cirrhosis, cramps = facts.conditions_in("cirrhosis"), facts.conditions_in("muscle_cramp")
    if not (cirrhosis and cramps):
        return []
    he = facts.conditions_in("hepatic_encephalopathy")
    context: list[Evidence] = [
        condition_evidence(cirrhosis[0]),
        condition_evidence(cramps[0]),
        *conditions_evidence(he),
    ]
    if inp.is_order_hook:
        kidney = assess_kidney(facts, inp.thresholds)
        return [
            DIURETIC_ORDER.finding(
                order=d,
                evidence=[order_evidence(d), *context, *kidney.evidence],
                values={
                    "diuretic": d.display,
                    "he": bool(he),
                    "kidney_impaired": kidney.impaired,
                    **kidney.values(),
                },
            )
            for d in inp.targets
            if "diuretic" in d.groups
        ]
    diuretics = facts.takes("diuretic")
    fit = assess_baclofen(inp)
    if fit.already_on and not diuretics:
        return []
    evidence = [*(order_evidence(d, "Active diuretic") for d in diuretics), *context]
    evidence.extend(fit.kidney.evidence)
    if facts.age_years is not None:
        evidence.append(age_evidence(facts.age_years))
    evidence.extend(conditions_evidence(current_pregnancy(facts)))
    evidence.extend(a_lab for a_lab in _abnormal_evidence(fit))
    suggestions = (SuggestionSpec("add-baclofen", schedule=fit.schedule),) if fit.offer else ()
    return [
        CHART.finding(
            order=None,
            evidence=evidence,
            suggestions=suggestions,
            values={
                "diuretics": tuple(d.display for d in diuretics),
                "age": facts.age_years,
                **fit.kidney.values(),
                "he": fit.hepatic_encephalopathy,
                "offer": fit.offer,
                "start_low": fit.schedule == "start-low",
                "already_on": fit.already_on,
                "pregnant": fit.pregnant,
                "severe_kidney": fit.severe_kidney,
                "older_kidney": fit.older_kidney,
                "older_no_egfr": fit.older_no_egfr,
                "age_unknown": fit.age_unknown,
                "child": fit.child,
                "secondary": fit.workup.secondary,
            },
        )
    ]


def _abnormal_evidence(fit: BaclofenFit) -> list[Evidence]:
    return [Evidence("Abnormal result", a.text(), a.lab.when, a.lab.source_id)
            for a in fit.workup.abnormal]  # fmt: skip
