"""Magnesium and potassium supplements: one logic, two electrolytes (magnesium.py, potassium.py).

For each supplement order, and (kidney card only) each oral combination product:

Kidney (always, takes precedence): eGFR < 30, CKD G4/G5 or dialysis -> CRITICAL; eGFR 30-59
(or CKD coded without an eGFR) -> WARNING. These eGFR cut-offs are a design choice: no
guideline gives a number (OTC labels say "ask a doctor if you have kidney disease"). The
kidney card also fires for *_containing products taken by mouth (antacids, laxatives, bowel
preps; route oral, or no route known), which add to the load the kidneys must clear; not for
injections (IV fluids, parenteral nutrition: deliberately managed electrolytes).

Level (runs as well; in patient-view only for supplements taken "for cramps", because a normal
level on long-term treatment says little about the indication):
- documented low (value < threshold or the lab's own "low" flag; the deficiency as the order's
  reason; the deficiency on the problem list only when there is no result in the lab window,
  since a current result outranks a possibly stale entry): no warning; an INFO card with
  dosing information, unless the kidney card already fired (then it says the level is low);
- no result in the lab window (absent from PatientFacts.labs): WARNING "check levels" with an
  order-labs suggestion (this electrolyte plus the companion one when that is missing too);
  results on file that were not used (e.g. status "unknown": unverified, so they document
  neither a deficiency nor a normal level) are named on the card from the data notes;
- normal: WARNING against empirical supplementation.
A value exactly at the threshold is not low, nor one within CONVERSION_TOLERANCE_MMOL_PER_L
below it (the same threshold converted from mg/dL, e.g. 1.7 mg/dL = 0.6994 mmol/L).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cds_service.clinical.types import LabValue, Medication, PatientFacts
from cds_service.rules.evidence import conditions_evidence, lab_evidence, order_evidence
from cds_service.rules.indication import cramp_indication
from cds_service.rules.kidney import Kidney, assess_kidney
from cds_service.rules.types import (
    CardSpec,
    Evidence,
    Finding,
    OrderableLab,
    RuleInput,
    SuggestionKind,
    SuggestionSpec,
    Thresholds,
    ValueKind,
)

RENAL_VALUES: dict[str, ValueKind] = {
    "drug": "text",
    "egfr": "number?",
    "egfr_date": "date?",
    "egfr_computed": "flag",
    "dialysis": "flag",
    "ckd_g4_g5": "flag",
    "ckd_without_egfr": "flag",
    "level": "number?",
    "level_date": "date?",
    "level_low": "flag",
    "combination": "flag",
}
CHECK_VALUES: dict[str, ValueKind] = {
    "drug": "text",
    "companion_missing": "flag",
    "companion": "number?",
    "companion_date": "date?",
    "renal_card": "flag",
    "unused_notes": "texts",
}
NORMAL_VALUES: dict[str, ValueKind] = {
    "drug": "text",
    "level": "number",
    "level_date": "date?",
    "threshold": "number",
    "renal_card": "flag",
}
LOW_VALUES: dict[str, ValueKind] = {
    "drug": "text",
    "level": "number?",
    "level_date": "date?",
    "threshold": "number",
    "by_lab": "flag",
    "by_condition": "flag",
    "by_reason": "flag",
    "condition": "text?",
    "egfr": "number?",
    "egfr_date": "date?",
}


@dataclass(frozen=True, slots=True)
class Electrolyte:
    analyte: OrderableLab  # "magnesium" | "potassium"
    companion: OrderableLab  # checked together before supplementing
    drug_group: str  # single-ingredient supplements: every card
    containing_group: str  # combination products: the kidney card only, when taken by mouth
    low_group: str  # condition group that documents the deficiency
    threshold: Callable[[Thresholds], float]
    renal_severe: CardSpec
    renal_moderate: CardSpec
    check_levels: CardSpec
    not_deficient: CardSpec
    documented_low: CardSpec

    @property
    def cards(self) -> tuple[CardSpec, ...]:
        return (
            self.renal_severe,
            self.renal_moderate,
            self.check_levels,
            self.not_deficient,
            self.documented_low,
        )


def card_specs(name: str) -> dict[str, CardSpec]:
    renal, level = f"{name}-renal-risk", f"{name}-deficiency-check"
    labs: frozenset[SuggestionKind] = frozenset({"order-labs"})
    return {
        "renal_severe": CardSpec(renal, f"{name}-renal-severe", "critical", RENAL_VALUES),
        "renal_moderate": CardSpec(renal, f"{name}-renal-moderate", "warning", RENAL_VALUES),
        "check_levels": CardSpec(level, f"{name}-check-levels", "warning", CHECK_VALUES, labs),
        "not_deficient": CardSpec(level, f"{name}-not-deficient", "warning", NORMAL_VALUES),
        "documented_low": CardSpec(level, f"{name}-repletion-info", "info", LOW_VALUES, labs),
    }


# Conventional cut-offs are one threshold stated at lab precision in two units ("< 0.70
# mmol/L" = "< 1.7 mg/dL"), but 1.7 mg/dL converts to 0.6994 mmol/L (x 0.41144). A value is
# low only when it is below the threshold by more than this conversion-rounding margin, so
# 1.7 mg/dL is not low while 1.69 mg/dL (0.695) and 0.69 mmol/L are. Far below any reported
# precision (0.01 mmol/L; 0.1 for potassium, whose mEq/L and mmol/L are 1:1).
CONVERSION_TOLERANCE_MMOL_PER_L = 0.002


def is_low(lab: LabValue, threshold: float) -> bool:
    """Below the threshold (beyond the conversion-rounding tolerance), or flagged low by the
    lab; a value at the threshold, stated in either unit, is not low."""
    if lab.interpretation == "low":
        return True
    if lab.comparator in ("<", "<="):
        return lab.value <= threshold
    at_most = lab.at_most()
    return at_most is not None and at_most < threshold - CONVERSION_TOLERANCE_MMOL_PER_L


def documented_low(inp: RuleInput, e: Electrolyte, lab: LabValue | None) -> bool:
    """A result in the lab window decides; the coded deficiency counts only without one (a
    problem-list entry is often left over from an old episode)."""
    if lab is not None:
        return is_low(lab, e.threshold(inp.thresholds))
    return inp.facts.has_condition(e.low_group)


def unused_results(facts: PatientFacts, analyte: str) -> tuple[str, ...]:
    """The data notes saying results of this analyte were on file but not used (a status other
    than final/amended/corrected, a future date, older than the window)."""
    about = f"{analyte} result"
    return tuple(n for n in facts.data_notes if about in n and "not used" in n)


def supplement_findings(inp: RuleInput, e: Electrolyte) -> list[Finding]:
    findings: list[Finding] = []
    for order in inp.targets:
        supplement = e.drug_group in order.groups
        if not supplement and not _oral_combination(order, e):
            continue
        kidney = assess_kidney(inp.facts, inp.thresholds)
        renal = _renal(inp, e, order, kidney, combination=not supplement)
        if renal is not None:
            findings.append(renal)
        if not supplement:
            continue  # the deficiency cards are about supplementation
        if inp.hook == "patient-view":
            proper = frozenset({e.low_group})
            if not cramp_indication(order, inp.facts, proper).for_cramps:
                continue
        level = _level(inp, e, order, kidney, renal_card=renal is not None)
        if level is not None:
            findings.append(level)
    return findings


def _oral_combination(order: Medication, e: Electrolyte) -> bool:
    """A combination product taken by mouth, or with no known route; never an injection."""
    return e.containing_group in order.groups and order.route in (None, "oral")


def _renal(
    inp: RuleInput, e: Electrolyte, order: Medication, kidney: Kidney, *, combination: bool
) -> Finding | None:
    if not kidney.impaired:
        return None
    spec = e.renal_severe if kidney.band == "severe" else e.renal_moderate
    lab = inp.facts.lab(e.analyte)
    low = documented_low(inp, e, lab)
    evidence = [order_evidence(order), *kidney.evidence]
    if lab is not None:
        evidence.append(lab_evidence(lab))
    return spec.finding(
        order=order,
        evidence=evidence,
        values={
            "drug": order.display,
            **kidney.values(),
            "ckd_without_egfr": kidney.ckd_without_egfr,
            "level": lab.value if lab else None,
            "level_date": lab.when if lab else None,
            "level_low": low,
            "combination": combination,
        },
    )


def _level(
    inp: RuleInput, e: Electrolyte, order: Medication, kidney: Kidney, *, renal_card: bool
) -> Finding | None:
    threshold = e.threshold(inp.thresholds)
    lab = inp.facts.lab(e.analyte)
    # The coded deficiency documents it only when there is no result in the window.
    conditions = inp.facts.conditions_in(e.low_group) if lab is None else ()
    by_lab = lab is not None and is_low(lab, threshold)
    by_reason = e.low_group in order.reason_groups
    evidence: list[Evidence] = [order_evidence(order)]
    if lab is not None:
        evidence.append(lab_evidence(lab))
    if by_lab or conditions or by_reason:
        if renal_card:
            return None  # the kidney card shows the low level and takes precedence
        evidence.extend(conditions_evidence(conditions))
        evidence.extend(kidney.evidence)
        suggestions = () if lab else (SuggestionSpec("order-labs", labs=(e.analyte,)),)
        return e.documented_low.finding(
            order=order,
            evidence=evidence,
            suggestions=suggestions,
            values={
                "drug": order.display,
                "level": lab.value if lab else None,
                "level_date": lab.when if lab else None,
                "threshold": threshold,
                "by_lab": by_lab,
                "by_condition": bool(conditions),
                "by_reason": by_reason,
                "condition": conditions[0].display if conditions else None,
                "egfr": kidney.egfr.value if kidney.egfr else None,
                "egfr_date": kidney.egfr.when if kidney.egfr else None,
            },
        )
    if lab is None:
        companion = inp.facts.lab(e.companion)
        if companion is not None:
            evidence.append(lab_evidence(companion))
        labs = (e.analyte,) if companion is not None else (e.analyte, e.companion)
        return e.check_levels.finding(
            order=order,
            evidence=evidence,
            suggestions=(SuggestionSpec("order-labs", labs=labs, recommended=True),),
            values={
                "drug": order.display,
                "companion_missing": companion is None,
                "companion": companion.value if companion else None,
                "companion_date": companion.when if companion else None,
                "renal_card": renal_card,
                "unused_notes": unused_results(inp.facts, e.analyte),
            },
        )
    return e.not_deficient.finding(
        order=order,
        evidence=evidence,
        values={
            "drug": order.display,
            "level": lab.value,
            "level_date": lab.when,
            "threshold": threshold,
            "renal_card": renal_card,
        },
    )
