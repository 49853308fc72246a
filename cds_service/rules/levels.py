"""Is a lab result low, normal or high? The lab's own judgement first, then fixed cut-offs.

Order (clinical-knowledge §11.1): the result's `interpretation` flag (L/LL/H/HH/N), else its
own `referenceRange` (both read by the clinical layer into `LabValue.interpretation`), else
the service's cut-offs in `Thresholds`. A card never calls a value normal that the lab or the
cut-offs call high or low.

Conventional cut-offs are one threshold stated at lab precision in two units ("< 0.70
mmol/L" = "< 1.7 mg/dL"), but 1.7 mg/dL converts to 0.6994 mmol/L (x 0.41144). A value is past
a cut-off only beyond this conversion-rounding margin, so 1.7 mg/dL is not low while 1.69
mg/dL (0.695) and 0.69 mmol/L are; 2.6 mg/dL (1.0697 mmol/L) is not above 1.07.
"""

from __future__ import annotations

from typing import Literal

from cds_service.clinical.types import LabValue
from cds_service.rules.types import Thresholds

Level = Literal["low", "normal", "high"]
CONVERSION_TOLERANCE = 0.002  # canonical units; far below any reported precision


def below(lab: LabValue, limit: float) -> bool:
    """Certainly under `limit` (beyond the conversion margin); "<0.5" is under 0.5."""
    if lab.comparator in ("<", "<="):
        return lab.value <= limit
    at_most = lab.at_most()
    return at_most is not None and at_most < limit - CONVERSION_TOLERANCE


def above(lab: LabValue, limit: float) -> bool:
    """Certainly over `limit` (beyond the conversion margin); ">6" is over 6."""
    if lab.comparator in (">", ">="):
        return lab.value >= limit
    return lab.value > limit + CONVERSION_TOLERANCE


def judge(lab: LabValue, low: float | None, high: float | None) -> Level:
    """The lab's own flag or range, else the cut-offs (None: no cut-off on that side)."""
    if lab.interpretation is not None:
        return lab.interpretation
    if low is not None and below(lab, low):
        return "low"
    if high is not None and above(lab, high):
        return "high"
    return "normal"


def cutoffs(lab: LabValue, t: Thresholds) -> tuple[float | None, float | None]:
    """The service's (low, high) cut-offs for this result's analyte, canonical units."""
    match lab.analyte:
        case "potassium":
            return t.hypokalemia_mmol_per_l, t.hyperkalemia_mmol_per_l
        case "magnesium":
            return t.hypomagnesemia_mmol_per_l, t.hypermagnesemia_mmol_per_l
        case "calcium":
            low = t.hypocalcemia_ionized_mmol_per_l if lab.ionized else t.hypocalcemia_mmol_per_l
            return low, None
        case "creatine_kinase":
            return None, t.ck_upper_u_per_l
        case "tsh":
            return t.tsh_lower_miu_per_l, t.tsh_upper_miu_per_l
    return None, None


def level(lab: LabValue, t: Thresholds) -> Level:
    return judge(lab, *cutoffs(lab, t))


def upper_limit(lab: LabValue, t: Thresholds) -> float | None:
    """The result's own upper reference limit, else the service's cut-off (for "10x ULN")."""
    return lab.reference_high if lab.reference_high is not None else cutoffs(lab, t)[1]
