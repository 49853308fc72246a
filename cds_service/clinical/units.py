"""The one unit converter: a lab value in whatever unit it came in -> the analyte's canonical unit.

Units arrive as UCUM codes ("mL/min/{1.73_m2}"), as human text only ("mmol/L" with no code,
Bundle-ghp), under a non-UCUM system (SNOMED 258814008 with unit "umol/L", Observation-f204),
or in spellings UCUM doesn't have ("mEq/L", "µmol/L", "mL/min/1.73 m2"). They are normalised
(case, spaces, µ, braces, zero-width characters) and looked up in a table per analyte. The
unit on the value decides, not the LOINC code's nominal property (PDDI sends 19123-9, a mass
code, in mmol/L). Factors: clinical-knowledge.md section 5.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from cds_service.clinical.fhirjson import clean

UMOL_PER_MG_CREATININE = 88.42  # creatinine: umol/L = mg/dL x 88.42
MG_PER_MMOL_K = 39.098  # potassium mass units (75940-7): mmol/L = mg/dL x 10 / 39.098

EGFR_PER_BSA_NOTE = "eGFR reported in mL/min, not normalised to 1.73 m2"


class UnitError(ValueError):
    """The unit is missing or not one this analyte can be converted from."""


class Converted(NamedTuple):
    value: float
    unit: str  # the normalised unit it was converted from
    note: str | None = None


_TABLE: dict[str, dict[str, float]] = {
    "potassium": {"mmol/l": 1.0, "meq/l": 1.0, "mg/dl": 10.0 / MG_PER_MMOL_K},
    "sodium": {"mmol/l": 1.0, "meq/l": 1.0},
    "magnesium": {"mmol/l": 1.0, "mg/dl": 0.41144, "meq/l": 0.5},  # Mg 24.305, valence 2
    "creatinine": {
        "mg/dl": 1.0,
        "umol/l": 1.0 / UMOL_PER_MG_CREATININE,
        "mmol/l": 1000.0 / UMOL_PER_MG_CREATININE,
    },
    "egfr": {"ml/min/1.73m2": 1.0, "ml/min": 1.0},
    "calcium": {"mmol/l": 1.0, "mg/dl": 0.2495, "meq/l": 0.5},  # Ca 40.078, valence 2
    "creatine_kinase": {"u/l": 1.0, "iu/l": 1.0, "[iu]/l": 1.0},
    "tsh": {
        "m[iu]/l": 1.0,
        "u[iu]/ml": 1.0,
        "miu/l": 1.0,
        "uiu/ml": 1.0,
        "mu/l": 1.0,
        "uu/ml": 1.0,
    },
}
_NOTES: dict[tuple[str, str], str] = {("egfr", "ml/min"): EGFR_PER_BSA_NOTE}

_NORMALISE = str.maketrans({"µ": "u", "μ": "u", "²": "2"} | dict.fromkeys("{}_^ \t·"))


@functools.lru_cache(maxsize=4096)
def normalise_unit(unit: str | None) -> str | None:
    """Comparable unit text: mL/min/{1.73_m2} -> ml/min/1.73m2, µmol/L -> umol/l."""
    text = clean(unit)
    if not text:
        return None
    return text.lower().translate(_NORMALISE) or None


def convert(analyte: str, value: float, unit_code: str | None, unit_text: str | None) -> Converted:
    """`value` in `analyte`'s canonical unit. The code is tried first, then the text.

    Raises UnitError when neither names a unit known for this analyte (or the analyte itself
    is unknown). Never raises anything else.
    """
    table = _TABLE.get(analyte)
    if table is None:
        raise UnitError(f"no units known for analyte {analyte!r}")
    for candidate in (unit_code, unit_text):
        unit = normalise_unit(candidate)
        if unit is not None and unit in table:
            return Converted(value * table[unit], unit, _NOTES.get((analyte, unit)))
    shown = clean(unit_code) or clean(unit_text)
    if shown is None:
        raise UnitError(f"{analyte}: value has no unit")
    raise UnitError(f"{analyte}: unit {shown[:40]!r} not recognised")


def to_canonical(analyte: str, value: float, unit_code: str | None, unit_text: str | None) -> float:
    """`value` converted to CANONICAL_UNITS[analyte]; raises UnitError for unknown units."""
    return convert(analyte, value, unit_code, unit_text).value


def from_canonical(analyte: str, value: float, unit: str) -> float:
    """The inverse of to_canonical (for display and round-trip checks)."""
    table = _TABLE.get(analyte)
    normalised = normalise_unit(unit)
    if table is None or normalised is None or normalised not in table:
        raise UnitError(f"{analyte}: unit {unit[:40]!r} not recognised")
    return value / table[normalised]


def known_units(analyte: str) -> tuple[str, ...]:
    """The normalised unit spellings accepted for an analyte."""
    return tuple(_TABLE.get(analyte, ()))
