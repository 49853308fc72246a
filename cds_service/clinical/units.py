"""The one unit converter: a lab value in whatever unit it came in -> the analyte's canonical unit.

Units arrive as UCUM codes ("mL/min/{1.73_m2}"), as human text only ("mmol/L" with no code,
Bundle-ghp), under a non-UCUM system (SNOMED 258814008 with unit "umol/L", Observation-f204),
or in spellings UCUM doesn't have ("mEq/L", "µmol/L", "mL/min/1.73 m2"). They are normalised
(case, spaces, µ, braces, zero-width characters; fhirjson.normalise_unit) and looked up in
the analyte's factors in the lab table (data/labs.yaml). The unit on the value decides, not
the LOINC code's nominal property (PDDI sends 19123-9, a mass code, in mmol/L). Factors:
clinical-knowledge.md section 5.
"""

from __future__ import annotations

from typing import NamedTuple

from cds_service.clinical.fhirjson import clean, normalise_unit
from cds_service.clinical.lab_table import LABS


class UnitError(ValueError):
    """The unit is missing or not one this analyte can be converted from."""


class Converted(NamedTuple):
    value: float
    unit: str  # the normalised unit it was converted from
    note: str | None = None


# Derived from the lab table (data/labs.yaml), checked at import.
_TABLE: dict[str, dict[str, float]] = {a: dict(lab.factors) for a, lab in LABS.items()}
_NOTES: dict[tuple[str, str], str] = {
    (a, unit): note for a, lab in LABS.items() for unit, note in lab.notes.items()
}
EGFR_PER_BSA_NOTE = LABS["egfr"].notes["ml/min"]


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
    """`value` converted to the analyte's canonical unit; raises UnitError for unknown units."""
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
