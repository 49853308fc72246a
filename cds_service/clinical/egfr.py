"""eGFR by the race-free CKD-EPI 2021 creatinine equation, for when no eGFR is reported.

    eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x 1.012 [female]
    k = 0.7 (F) / 0.9 (M); a = -0.241 (F) / -0.302 (M); Scr in mg/dL (IDMS)

Inker et al., N Engl J Med 2021;385:1737-49 (clinical-knowledge.md section 6). Adults only:
below 18, or without a recorded sex, there is no value. Post-dialysis creatinine never gets
here (its LOINC codes are not in the creatinine analyte).
"""

from __future__ import annotations

from cds_service.clinical.types import LabValue, Sex

LOINC_CKD_EPI_2021 = "98979-8"
_K = {"female": 0.7, "male": 0.9}
_ALPHA = {"female": -0.241, "male": -0.302}


def ckd_epi_2021(creatinine_mg_dl: float, age_years: int, sex: Sex) -> float:
    """eGFR in mL/min/1.73 m2. Raises ValueError outside the equation's domain."""
    if age_years < 18:
        raise ValueError("CKD-EPI 2021 applies to adults (18 years or older)")
    if not creatinine_mg_dl > 0:
        raise ValueError("creatinine must be positive")
    ratio = creatinine_mg_dl / _K[sex]
    egfr = 142.0 * float(min(ratio, 1.0) ** _ALPHA[sex]) * float(max(ratio, 1.0) ** -1.200)
    egfr *= float(0.9938**age_years)
    if sex == "female":
        egfr *= 1.012
    return egfr


def computed_egfr(creatinine: LabValue, age_years: int | None, sex: Sex | None) -> LabValue | None:
    """An eGFR LabValue derived from a creatinine result, or None when it can't be computed.

    A censored creatinine ("<0.5") gives no exact eGFR, so none is computed.
    """
    if age_years is None or sex is None or age_years < 18 or creatinine.comparator is not None:
        return None
    if creatinine.analyte != "creatinine":
        return None
    value = ckd_epi_2021(creatinine.value, age_years, sex)
    when = creatinine.when.isoformat() if creatinine.when else "an undated result"
    return LabValue(
        analyte="egfr",
        value=round(value, 1),
        comparator=None,
        when=creatinine.when,
        original=f"{value:.1f} mL/min/1.73m2 (computed)",
        source_id=None,
        code=LOINC_CKD_EPI_2021,
        interpretation=None,
        derived_from=creatinine.source_id,
        note=(
            f"computed with CKD-EPI 2021 from creatinine {creatinine.value:.2f} mg/dL on {when}, "
            f"age {age_years}, sex {sex}"
        ),
    )
