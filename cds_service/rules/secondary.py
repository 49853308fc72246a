"""Cramps that look secondary: abnormal work-up results and the likely cause (§11.2).

AAN 2010 and every cramp review: look for a cause and treat it before any symptomatic drug.
The five basic labs are potassium, magnesium, calcium (low), creatine kinase (high) and TSH
(high or low); each is judged by the lab's own flag or range first (levels.py). Likely causes:
- low potassium or magnesium: an electrolyte deficit, often from diuretics (§1.7);
- high CK with a statin: statin-associated muscle symptoms; CK >= 10x the upper limit means
  stop the statin (2018 AHA/ACC cholesterol guideline; EAS 2015: > 10x ULN = myopathy);
- high CK without a statin: a myopathy to look into;
- high TSH: hypothyroidism; low TSH: overactive thyroid;
- low calcium: hypocalcaemia (check albumin, PTH, vitamin D).
Urgent: K < 3.0 mmol/L (StatPearls), Mg < 1.2 mg/dL (0.494 mmol/L), CK >= 10x ULN.
"""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.clinical.lab_table import LAB_LABELS
from cds_service.clinical.types import LabValue, Medication, PatientFacts
from cds_service.rules.evidence import reported
from cds_service.rules.levels import Level, below, level, upper_limit
from cds_service.rules.types import OrderableLab, Thresholds

WORKUP_LABS: tuple[OrderableLab, ...] = (
    "magnesium",
    "potassium",
    "calcium",
    "creatine_kinase",
    "tsh",
)
# The direction that makes each result a cramp cause.
_ABNORMAL: dict[str, frozenset[Level]] = {
    "potassium": frozenset({"low"}),
    "magnesium": frozenset({"low"}),
    "calcium": frozenset({"low"}),
    "creatine_kinase": frozenset({"high"}),
    "tsh": frozenset({"low", "high"}),
}


@dataclass(frozen=True, slots=True)
class Abnormal:
    lab: LabValue
    state: Level

    def text(self) -> str:
        """ "Serum potassium 3.1 mmol/L (low)" """
        return f"{LAB_LABELS[self.lab.analyte]} {reported(self.lab)} ({self.state})"


@dataclass(frozen=True, slots=True)
class Workup:
    abnormal: tuple[Abnormal, ...]
    missing: tuple[OrderableLab, ...]
    statins: tuple[Medication, ...]
    diuretics: tuple[Medication, ...]
    ck_multiple: float | None  # CK as a multiple of its upper limit, when high
    urgent: bool

    @property
    def secondary(self) -> bool:
        """A result points to a cause: treat it first, offer no symptomatic drug."""
        return bool(self.abnormal)

    def states(self) -> dict[str, Level]:
        return {a.lab.analyte: a.state for a in self.abnormal}


def assess_workup(facts: PatientFacts, t: Thresholds) -> Workup:
    abnormal: list[Abnormal] = []
    missing: list[OrderableLab] = []
    for analyte in WORKUP_LABS:
        lab = facts.lab(analyte)
        if lab is None:
            missing.append(analyte)
            continue
        state = level(lab, t)
        if state in _ABNORMAL[analyte]:
            abnormal.append(Abnormal(lab, state))
    ck = facts.lab("creatine_kinase")
    multiple = None
    if ck is not None and any(a.lab is ck for a in abnormal):
        limit = upper_limit(ck, t)
        multiple = ck.value / limit if limit else None
    urgent = (
        any(a.lab.analyte == "potassium" and below(a.lab, t.severe_hypokalemia_mmol_per_l)
            for a in abnormal)
        or any(a.lab.analyte == "magnesium" and below(a.lab, t.severe_hypomagnesemia_mmol_per_l)
               for a in abnormal)
        or (multiple is not None and multiple >= t.ck_myopathy_multiple)
    )  # fmt: skip
    return Workup(
        abnormal=tuple(abnormal),
        missing=tuple(missing),
        statins=facts.takes("statin"),
        diuretics=facts.takes("diuretic"),
        ck_multiple=multiple,
        urgent=urgent,
    )
