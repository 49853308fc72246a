"""Kidney function as the rules need it: one band, with the evidence that decided it.

Bands (thresholds configurable, defaults KDIGO G-categories):
- severe: eGFR < 30, or CKD G4/G5, ESRD or dialysis on the problem list;
- moderate: 30 <= eGFR < 60, or CKD coded with no eGFR in the lab window;
- adequate: eGFR >= 60 (">60" counts as at least 60);
- unknown: no eGFR and no kidney condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cds_service.clinical.types import LabValue, PatientFacts
from cds_service.rules.evidence import condition_evidence, conditions_evidence, lab_evidence
from cds_service.rules.types import Evidence, Thresholds, ValueKind

Band = Literal["severe", "moderate", "adequate", "unknown"]

# The template values of Kidney.values(), for a CardSpec: `**KIDNEY_VALUES`.
KIDNEY_VALUES: dict[str, ValueKind] = {
    "egfr": "number?",
    "egfr_date": "date?",
    "egfr_computed": "flag",
    "dialysis": "flag",
    "ckd_g4_g5": "flag",
}


def below(lab: LabValue, limit: float) -> bool:
    """True when the result is certainly under `limit` ("<15" is under 15; ">60" is not)."""
    if lab.comparator in ("<", "<="):
        return lab.value <= limit if lab.comparator == "<" else lab.value < limit
    return lab.value < limit


@dataclass(frozen=True, slots=True)
class Kidney:
    band: Band
    egfr: LabValue | None
    dialysis: bool
    ckd_g4_g5: bool
    ckd_without_egfr: bool
    evidence: tuple[Evidence, ...]

    @property
    def impaired(self) -> bool:
        return self.band in ("severe", "moderate")

    def values(self) -> dict[str, object]:
        """The template values every kidney-aware card shares."""
        return {
            "egfr": self.egfr.value if self.egfr else None,
            "egfr_date": self.egfr.when if self.egfr else None,
            "egfr_computed": bool(self.egfr and self.egfr.derived_from),
            "dialysis": self.dialysis,
            "ckd_g4_g5": self.ckd_g4_g5,
        }


def assess_kidney(facts: PatientFacts, thresholds: Thresholds) -> Kidney:
    egfr = facts.egfr
    evidence: list[Evidence] = []
    if egfr is not None:
        evidence.append(lab_evidence(egfr))
        creatinine = facts.lab("creatinine")
        if egfr.derived_from and creatinine is not None:
            evidence.append(lab_evidence(creatinine))
    dialysis = facts.conditions_in("esrd_dialysis")
    g45 = facts.conditions_in("ckd_g4_g5")
    ckd = facts.conditions_in("ckd")
    evidence.extend((*conditions_evidence(dialysis), *conditions_evidence(g45)))

    ckd_without_egfr = egfr is None and bool(ckd) and not (dialysis or g45)
    if dialysis or g45 or (egfr is not None and below(egfr, thresholds.egfr_severe)):
        band: Band = "severe"
    elif egfr is not None and below(egfr, thresholds.egfr_moderate):
        band = "moderate"
    elif ckd_without_egfr:
        band = "moderate"
        evidence.append(condition_evidence(ckd[0]))
    elif egfr is not None:
        band = "adequate"
    else:
        band = "unknown"
    return Kidney(band, egfr, bool(dialysis), bool(g45), ckd_without_egfr, tuple(evidence))
