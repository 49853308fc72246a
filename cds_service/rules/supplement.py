"""Magnesium and potassium orders: one logic, two electrolytes (magnesium.py, potassium.py).

One card per order at most, the first that applies:

1. `<x>-level-high` CRITICAL: the latest level is high (the lab's flag or range, else the
   cut-off: K > 5.0 mmol/L, Mg > 1.07 mmol/L = 2.6 mg/dL; §11.1). Hold it. For IV magnesium
   given for pre-eclampsia/eclampsia or torsades, where a level above normal is the aim,
   only a level above the therapeutic range (> 3.5 mmol/L = 8.4 mg/dL = 7 mEq/L) is high.
   Any order adding the electrolyte counts, IV fluids and nutrition included.
2. `<x>-renal-critical` CRITICAL: supplementation on dialysis / end-stage kidney disease
   without a documented low level; or magnesium with eGFR < 30 (CKD G4-5) and no magnesium
   result to monitor by.
3. `<x>-renal-caution` WARNING: supplementation with eGFR < 30 (CKD G4-5), or on dialysis
   with a documented low level (hypokalaemia is common on peritoneal dialysis): cautious
   repletion of a low level, no supplement for a normal one, check potassium first.
4. `<x>-other-use-kidney` WARNING: an order that is not supplementation (below) with eGFR < 30,
   CKD G4-5 or dialysis: dose and monitoring for that use. Never a deficiency card.
5. `<x>-check-levels` WARNING: supplementation with no result in the lab window.
6. `<x>-not-deficient` WARNING: supplementation with a normal level.
7. `<x>-repletion-info` INFO: supplementation of a documented deficiency (order hooks only).

Not supplementation (no "no deficiency" card in any hook; §11.4): IV magnesium (pre-eclampsia,
torsades, asthma, in-hospital repletion: never cramp treatment; with no stated reason, order
hooks still note a documented low level or ask for a level when there is none), magnesium
laxatives and antacids, potassium citrate (kidney stones), potassium phosphate (phosphate
repletion), combination products taken by mouth. Injections of combination products (IV fluids,
parenteral nutrition) get only the high-level card.

Cards 5-6 cite cramp evidence, so they respect the order's indication in every hook: an order
for cramps, or (order hooks) one that states no reason at all; never one written for something
else. At chart open, an unexplained potassium supplement beside a loop or thiazide diuretic is
presumed to replace the diuretic's losses. Patient-view (active orders): cards 1-4 always;
5-6 only for an order taken "for cramps"; 7 never (a replaced deficiency needs no card at
chart open). Magnesium in pregnancy: no 5-6 (Cochrane 2020: conflicting evidence; F8). The
eGFR bands are a design choice (§5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cds_service.clinical.types import LabValue, Medication, PatientFacts
from cds_service.rules.evidence import (
    conditions_evidence,
    lab_evidence,
    order_evidence,
    reported,
)
from cds_service.rules.indication import cramp_indication
from cds_service.rules.kidney import KIDNEY_VALUES, Kidney, assess_kidney
from cds_service.rules.levels import Level, above, level
from cds_service.rules.scope import current_pregnancy
from cds_service.rules.types import (
    CardSpec,
    Evidence,
    Finding,
    OrderableLab,
    RuleInput,
    SuggestionKind,
    SuggestionSpec,
    ValueKind,
)

# What an order is for. "supplement" is supplementation; the rest are other uses.
Use = Literal[
    "supplement", "iv", "obstetric", "torsades", "asthma", "laxative", "citrate", "phosphate",
    "combination", "infusion",
]  # fmt: skip
# (short label for the summary, what it is for in the detail); {x}: magnesium / potassium
USE_WORDS: dict[str, tuple[str, str]] = {
    "iv": ("IV magnesium", "intravenous repletion"),
    "obstetric": ("IV magnesium", "intravenous, for pre-eclampsia / eclampsia"),
    "torsades": ("IV magnesium", "intravenous, for torsades de pointes"),
    "asthma": ("IV magnesium", "intravenous, for asthma"),
    "laxative": ("Magnesium laxative or antacid", "a laxative or antacid"),
    "citrate": ("Potassium citrate", "a urinary alkaliniser for kidney stones"),
    "phosphate": ("Potassium phosphate", "phosphate repletion"),
    "combination": ("{X}-containing product", "a combination product containing {x}"),
    "infusion": ("{X}-containing infusion", "an infusion containing {x}"),
}
# Uses whose therapeutic levels lie above the normal range: only a level above the therapeutic
# range (Thresholds.magnesium_therapeutic_max_mmol_per_l) is "high" for them.
HIGH_LEVEL_INTENDED: frozenset[Use] = frozenset({"obstetric", "torsades"})

VALUES: dict[str, ValueKind] = {
    "drug": "text",
    "use": "text?",  # what another use is for (USE_WORDS), None for supplementation
    "use_label": "text?",  # its short name for the summary
    "level": "text?",  # as the lab reported it ("1.5 mg/dL (0.62 mmol/L)")
    "level_date": "date?",
    "level_state": "text?",  # low / normal / high
    "flagged": "flag",  # the lab's own flag or range decided (not the service's cut-off)
    "low_by": "text?",  # where a deficiency is documented: result / the order's reason / ...
    **KIDNEY_VALUES,
    "kidney": "text",  # severe / moderate / adequate / unknown
    "companion": "text?",
    "companion_missing": "flag",
    "raising": "texts",  # other active or drafted drugs that raise the level
    "unused_notes": "texts",
}
LABS: frozenset[SuggestionKind] = frozenset({"order-labs"})


def card_specs(name: str) -> dict[str, CardSpec]:
    rule = f"{name}-supplement"
    return {
        "level_high": CardSpec(rule, f"{name}-level-high", "critical", VALUES),
        "renal_critical": CardSpec(rule, f"{name}-renal-critical", "critical", VALUES, LABS),
        "renal_caution": CardSpec(rule, f"{name}-renal-caution", "warning", VALUES, LABS),
        "other_use_kidney": CardSpec(rule, f"{name}-other-use-kidney", "warning", VALUES, LABS),
        "check_levels": CardSpec(rule, f"{name}-check-levels", "warning", VALUES, LABS),
        "not_deficient": CardSpec(rule, f"{name}-not-deficient", "warning", VALUES),
        "repletion_info": CardSpec(rule, f"{name}-repletion-info", "info", VALUES, LABS),
    }


@dataclass(frozen=True, slots=True)
class Electrolyte:
    analyte: OrderableLab  # "magnesium" | "potassium"
    companion: OrderableLab  # checked together before supplementing
    drug_group: str  # single-ingredient products
    containing_group: str  # combination products: kidney and level only, taken by mouth
    low_group: str  # condition group that documents the deficiency
    raising_groups: frozenset[str]  # other drugs that raise the level, named on the card
    use: Callable[[Medication], Use]
    skip_in_pregnancy: bool  # no check-levels / not-deficient card in pregnancy (F8)
    # Another active drug that explains an unexplained supplement at chart open (patient-view)
    explained_by: Callable[[PatientFacts], bool]
    level_high: CardSpec
    renal_critical: CardSpec
    renal_caution: CardSpec
    other_use_kidney: CardSpec
    check_levels: CardSpec
    not_deficient: CardSpec
    repletion_info: CardSpec

    @property
    def cards(self) -> tuple[CardSpec, ...]:
        return (
            self.level_high,
            self.renal_critical,
            self.renal_caution,
            self.other_use_kidney,
            self.check_levels,
            self.not_deficient,
            self.repletion_info,
        )


def unused_results(notes: tuple[str, ...], analyte: str) -> tuple[str, ...]:
    """The data notes saying results of this analyte were on file but not used (a status other
    than final/amended/corrected, a future date, older than the window)."""
    about = f"{analyte} result"
    return tuple(n for n in notes if about in n and "not used" in n)


def supplement_findings(inp: RuleInput, e: Electrolyte) -> list[Finding]:
    findings: list[Finding] = []
    kidney: Kidney | None = None
    for order in inp.targets:
        if e.drug_group in order.groups:
            use = e.use(order)
        elif e.containing_group in order.groups:
            use = "combination" if order.route in (None, "oral") else "infusion"
        else:
            continue
        kidney = kidney or assess_kidney(inp.facts, inp.thresholds)
        finding = _one_card(inp, e, order, use, kidney)
        if finding is not None:
            findings.append(finding)
    return findings


def _one_card(
    inp: RuleInput, e: Electrolyte, order: Medication, use: Use, kidney: Kidney
) -> Finding | None:
    facts = inp.facts
    lab = facts.lab(e.analyte)
    state: Level | None = level(lab, inp.thresholds) if lab is not None else None
    supplement = use == "supplement"
    severe = kidney.band == "severe"
    spec: CardSpec | None = None
    if _too_high(inp, lab, state, use):
        spec = e.level_high
    elif use == "infusion":
        spec = None  # IV fluids and nutrition: deliberately managed, only a high level matters
    elif severe and not supplement:
        spec = e.other_use_kidney
    elif use == "iv" and inp.is_order_hook:
        spec = _iv_repletion_card(inp, e, order, lab, state)
    elif not supplement:
        spec = None
    elif kidney.dialysis and state == "low":
        spec = e.renal_caution  # a documented low level on dialysis: replete, carefully
    elif kidney.dialysis or (severe and lab is None and e.analyte == "magnesium"):
        spec = e.renal_critical
    elif severe:
        spec = e.renal_caution
    else:
        spec = _level_card(inp, e, order, lab, state)
    if spec is None:
        return None
    return _finding(inp, e, order, use, kidney, lab, state, spec)


def _iv_repletion_card(
    inp: RuleInput, e: Electrolyte, order: Medication, lab: LabValue | None, state: Level | None
) -> CardSpec | None:
    """In-hospital IV repletion is not cramp treatment, so no "no deficiency" card; but a
    documented low is noted, and repletion with no level at all is a reason to check it."""
    if _low_by(e, order, inp, lab, state) is not None:
        return e.repletion_info
    return e.check_levels if lab is None else None


def _too_high(inp: RuleInput, lab: LabValue | None, state: Level | None, use: Use) -> bool:
    """High for this use: above normal, or for IV magnesium whose aim is a level above normal
    (pre-eclampsia, torsades) above the therapeutic range (toxicity)."""
    if lab is None or state != "high":
        return False
    if use in HIGH_LEVEL_INTENDED:
        return above(lab, inp.thresholds.magnesium_therapeutic_max_mmol_per_l)
    return True


def _level_card(
    inp: RuleInput, e: Electrolyte, order: Medication, lab: LabValue | None, state: Level | None
) -> CardSpec | None:
    """Cards 5-7: the deficiency question, for supplementation with workable kidneys.

    The evidence these cards cite is about cramps, so they respect the order's indication in
    every hook: patient-view asks only of an order taken for cramps; order hooks ask of an order
    for cramps or of one that states no reason at all (an unexplained supplement), never of
    one written for something else (magnesium for migraine, potassium for hypertension)."""
    facts = inp.facts
    if _low_by(e, order, inp, lab, state) is not None:
        return None if inp.hook == "patient-view" else e.repletion_info
    indication = cramp_indication(order, facts, frozenset({e.low_group}))
    stated = order.has_reason or bool(order.stated_groups)
    if not indication.for_cramps and (inp.hook == "patient-view" or stated):
        return None
    if inp.hook == "patient-view" and not stated and e.explained_by(facts):
        return None  # e.g. potassium beside a loop diuretic: presumably replacing its losses
    if e.skip_in_pregnancy and current_pregnancy(facts):
        return None
    return e.check_levels if lab is None else e.not_deficient


def _low_by(
    e: Electrolyte, order: Medication, inp: RuleInput, lab: LabValue | None, state: Level | None
) -> str | None:
    """How the deficiency is documented: a low result; the order's own reason (coded or in
    words: the prescriber says it treats a deficiency, and a normal level on treatment says
    little); a problem-list entry only when there is no result (entries outlive episodes)."""
    if state == "low":
        return "result"
    if e.low_group in order.stated_groups:
        return "the order's reason"
    if lab is None and inp.facts.has_condition(e.low_group):
        return "the problem list"
    return None


def _finding(
    inp: RuleInput,
    e: Electrolyte,
    order: Medication,
    use: Use,
    kidney: Kidney,
    lab: LabValue | None,
    state: Level | None,
    spec: CardSpec,
) -> Finding:
    facts = inp.facts
    companion = facts.lab(e.companion)
    evidence: list[Evidence] = [order_evidence(order), *kidney.evidence]
    if lab is not None:
        evidence.append(lab_evidence(lab))
    low_by = _low_by(e, order, inp, lab, state) if use in ("supplement", "iv") else None
    if low_by == "the problem list":
        evidence.extend(conditions_evidence(facts.conditions_in(e.low_group)))
    if companion is not None and spec in (e.check_levels, e.repletion_info):
        evidence.append(lab_evidence(companion))
    raising = _raising(inp, e, order)
    evidence.extend(order_evidence(m, "Also raises it") for m in raising)
    labs: tuple[OrderableLab, ...] = ()
    if lab is None and use == "supplement" and companion is None:
        labs = (e.analyte, e.companion)  # low K and low Mg go together: check both first
    elif lab is None:
        labs = (e.analyte,)
    suggestions = (
        (SuggestionSpec("order-labs", labs=labs, recommended=spec is e.check_levels),)
        if labs and "order-labs" in spec.suggestions
        else ()
    )
    return spec.finding(
        order=order,
        evidence=evidence,
        suggestions=suggestions,
        values={
            "drug": order.display,
            **_use_words(use, e),
            "level": reported(lab) if lab else None,
            "level_date": lab.when if lab else None,
            "level_state": state,
            "flagged": lab is not None and lab.interpretation is not None,
            "low_by": low_by,
            **kidney.values(),
            "kidney": kidney.band,
            "companion": reported(companion) if companion else None,
            "companion_missing": companion is None,
            "raising": tuple(m.display for m in raising),
            "unused_notes": unused_results(facts.data_notes, e.analyte) if lab is None else (),
        },
    )


def _use_words(use: Use, e: Electrolyte) -> dict[str, str | None]:
    if use == "supplement":
        return {"use": None, "use_label": None}
    label, purpose = USE_WORDS[use]
    x = e.analyte
    return {
        "use": purpose.format(x=x),
        "use_label": label.format(X=x.capitalize()),
    }


def _raising(inp: RuleInput, e: Electrolyte, order: Medication) -> tuple[Medication, ...]:
    """Other active or drafted drugs that raise the same level (one line each, no repeats)."""
    seen: set[str] = set()
    out: list[Medication] = []
    for med in (*inp.facts.active_medications, *inp.orders):
        if med is order or not (med.groups & e.raising_groups) or med.display in seen:
            continue
        if order.reference is not None and med.reference == order.reference:
            continue
        seen.add(med.display)
        out.append(med)
    return tuple(out[:5])
