"""One Observation -> the lab results it carries, in canonical units, or a typed reason why not.

A result may sit in `valueQuantity` or, as in Observation-f205 (eGFR only in `component`,
">60"), in a component whose code names the analyte. Values that can't be trusted (strings,
NaN, negative, physiologically absurd, unknown unit) raise `LabSkip` with a short reason the
caller turns into a data note. Nothing else is raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from cds_service.clinical.fhirjson import clean, codings, dicts, number, parse_date
from cds_service.clinical.terminology import Terminology
from cds_service.clinical.types import Analyte, Comparator, Interpretation
from cds_service.clinical.units import UnitError, convert

VALID_STATUSES = frozenset({"final", "amended", "corrected"})
UCUM = "http://unitsofmeasure.org"
_COMPARATORS: dict[object, Comparator] = {"<": "<", "<=": "<=", ">=": ">=", ">": ">"}
_INTERPRETATION_SYSTEMS = frozenset(
    {
        None,
        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
        "http://hl7.org/fhir/v3/ObservationInterpretation",
        "http://terminology.hl7.org/CodeSystem/v2-0078",
        "http://hl7.org/fhir/v2/0078",
    }
)
_INTERPRETATION: dict[str, Interpretation] = {
    "L": "low", "LL": "low", "LU": "low", "<": "low",
    "H": "high", "HH": "high", "HU": "high", ">": "high",
    "N": "normal",
}  # fmt: skip
# Values outside these bounds (canonical units) are data errors, not patients.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "potassium": (0.5, 15.0),
    "sodium": (80.0, 220.0),
    "magnesium": (0.05, 10.0),
    "calcium": (0.2, 6.0),
    "creatinine": (0.05, 40.0),
    "egfr": (0.5, 300.0),
    "creatine_kinase": (1.0, 1_000_000.0),
    "tsh": (0.001, 1000.0),
}


class LabSkip(ValueError):
    """A result that was recognised but cannot be used; the message says why (no PHI)."""


@dataclass(slots=True)  # not frozen: built once per Observation on the hot path
class LabResult:
    """One usable result, before the latest-per-analyte choice."""

    analyte: Analyte
    value: float
    comparator: Comparator | None
    original: str
    code: str
    interpretation: Interpretation | None
    note: str | None


def analyte_of(terminology: Terminology, concept: object) -> tuple[Analyte, str] | None:
    """The first coding of a CodeableConcept that names one of our analytes (hot path: no
    display is read)."""
    if not isinstance(concept, dict):
        return None
    for coding in dicts(concept.get("coding")):
        code = clean(coding.get("code"))
        system = coding.get("system")
        analyte = terminology.analyte(system if isinstance(system, str) else None, code)
        if analyte is not None and code is not None:
            return analyte, code
    return None


def observation_date(obs: dict[str, Any]) -> tuple[date | None, str]:
    """effective[x] (period: end, else start), else issued; with the raw text for tie-breaks."""
    period = obs.get("effectivePeriod")
    candidates = (
        obs.get("effectiveDateTime"),
        period.get("end") if isinstance(period, dict) else None,
        period.get("start") if isinstance(period, dict) else None,
        obs.get("effectiveInstant"),
        obs.get("issued"),
    )
    for raw in candidates:
        when = parse_date(raw)
        if when is not None:
            return when, str(raw)
    return None, ""


def read_results(obs: dict[str, Any], terminology: Terminology) -> list[LabResult | LabSkip]:
    """Results of one Observation: the top-level value, else components (one per analyte)."""
    out: list[LabResult | LabSkip] = []
    seen: set[str] = set()
    top = analyte_of(terminology, obs.get("code"))
    if top is not None and _has_value(obs):
        first = _result(top[0], top[1], obs)
        out.append(first)
        if isinstance(first, LabResult):
            seen.add(first.analyte)
    for component in dicts(obs.get("component")):
        found = analyte_of(terminology, component.get("code"))
        if found is None or found[0] in seen:
            continue
        result = _result(found[0], found[1], component)
        if isinstance(result, LabResult):
            seen.add(found[0])
        out.append(result)
    if top is not None and not out:
        out.append(LabSkip(f"{top[0]}: no value"))
    return out


def _has_value(holder: dict[str, Any]) -> bool:
    return "valueQuantity" in holder or any(key.startswith("value") for key in holder)


def _result(analyte: Analyte, code: str, holder: dict[str, Any]) -> LabResult | LabSkip:
    try:
        return _parse(analyte, code, holder)
    except (LabSkip, UnitError) as exc:
        return exc if isinstance(exc, LabSkip) else LabSkip(str(exc))


def _parse(analyte: Analyte, code: str, holder: dict[str, Any]) -> LabResult:
    quantity = holder.get("valueQuantity")
    if not isinstance(quantity, dict):
        raise LabSkip(f"{analyte}: value is not a quantity")
    raw = number(quantity.get("value"))
    if raw is None or raw <= 0:
        raise LabSkip(f"{analyte}: value missing, not a number or not positive")
    raw_comparator = quantity.get("comparator")
    comparator = _COMPARATORS.get(raw_comparator) if isinstance(raw_comparator, str) else None
    if raw_comparator is not None and comparator is None:
        raise LabSkip(f"{analyte}: comparator not usable")
    unit_code, unit_text = _unit(quantity)
    converted = convert(analyte, raw, unit_code, unit_text)
    low, high = PLAUSIBLE[analyte]
    if not low <= converted.value <= high:
        raise LabSkip(f"{analyte}: implausible value")
    shown_unit = unit_text or unit_code or ""
    original = f"{comparator or ''}{raw:g} {shown_unit}".strip()
    return LabResult(
        analyte=analyte,
        value=converted.value,
        comparator=comparator,
        original=original,
        code=code,
        interpretation=_interpretation(analyte, converted.value, holder, unit_code, unit_text),
        note=converted.note,
    )


def _unit(quantity: dict[str, Any]) -> tuple[str | None, str | None]:
    """(code, text); the code only when it is UCUM (or carries no system)."""
    system = quantity.get("system")
    code = clean(quantity.get("code")) if system in (None, UCUM) else None
    return code, clean(quantity.get("unit"))


def _interpretation(
    analyte: Analyte,
    value: float,
    holder: dict[str, Any],
    unit_code: str | None,
    unit_text: str | None,
) -> Interpretation | None:
    """The lab's own flag (L/LL/H/HH/N), else the value against its reference range."""
    for concept in dicts(holder.get("interpretation")):
        for system, code, _display in codings(concept):
            if system in _INTERPRETATION_SYSTEMS and code in _INTERPRETATION:
                return _INTERPRETATION[code]
    for reference in dicts(holder.get("referenceRange")):
        low = _bound(analyte, reference.get("low"), unit_code, unit_text)
        high = _bound(analyte, reference.get("high"), unit_code, unit_text)
        if low is not None and value < low:
            return "low"
        if high is not None and value > high:
            return "high"
        if low is not None or high is not None:
            return "normal"
    return None


def _bound(
    analyte: Analyte, quantity: object, unit_code: str | None, unit_text: str | None
) -> float | None:
    """A reference-range limit in canonical units; a limit without a unit shares the value's."""
    if not isinstance(quantity, dict):
        return None
    raw = number(quantity.get("value"))
    if raw is None:
        return None
    own_code, own_text = _unit(quantity)
    try:
        if own_code or own_text:
            return convert(analyte, raw, own_code, own_text).value
        return convert(analyte, raw, unit_code, unit_text).value
    except UnitError:
        return None
