"""One Observation -> the lab results it carries, in canonical units, or a typed reason why not.

Observations are read as `cdshooks.resources.Resource` views, decoded at the edge with only the
fields read here, so there is one reading path and it is the fast one: a dict lookup for the
code, a cached factor for the unit, a cached date per written timestamp. A result may sit in
`valueQuantity` or, as in Observation-f205 (eGFR only in `component`, ">60"), in a component
whose code names the analyte. Values that can't be trusted (text, negative, physiologically
absurd, unknown unit) give a `LabSkip` with a short reason the caller turns into a data note.
Only the result chosen for its analyte is built into a LabValue (`lab_value`).
"""

from __future__ import annotations

import math
from datetime import date
from typing import NamedTuple

from cds_service.cdshooks.resources import Component, Concept, Quantity, Resource, listed
from cds_service.clinical.fhirjson import clean, parse_date
from cds_service.clinical.lab_table import IONIZED_CALCIUM, PLAUSIBLE
from cds_service.clinical.terminology import Terminology
from cds_service.clinical.types import Analyte, Comparator, Interpretation, LabValue
from cds_service.clinical.units import UnitError, convert

VALID_STATUSES = frozenset({"final", "amended", "corrected"})
UCUM = "http://unitsofmeasure.org"
_COMPARATORS: dict[str, Comparator] = {"<": "<", "<=": "<=", ">=": ">=", ">": ">"}
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

Holder = Resource | Component  # what carries a value: the Observation or one component


class LabSkip(ValueError):
    """A result that was recognised but cannot be used; the message says why (no PHI)."""


# (analyte, code as read, preference rank) of a coding that names one of our analytes
LabCode = tuple[Analyte, str, int]
# A result recognised and checked, not yet built: (analyte, code, rank, value holder).
Candidate = tuple[Analyte, str, int, Holder]


def lab_code(terminology: Terminology, concept: Concept | None) -> LabCode | None:
    """The first coding of a CodeableConcept that names one of our analytes (no display is
    read)."""
    if concept is None:
        return None
    for coding in listed(concept.coding):
        found = terminology.lab_code(coding.system, coding.code)
        if found is not None:
            return found
    return None


# (analyte, UCUM code, unit text) -> canonical-unit factor, 0.0 when `convert` refuses it
# (`convert` multiplies by the same factor). Units come from a small vocabulary; the size cap
# keeps junk units from growing it.
_FACTORS: dict[tuple[str, str | None, str | None], float] = {}
_FACTORS_MAX = 1024
_INF = math.inf


def _unit(quantity: Quantity) -> tuple[str | None, str | None]:
    """(code, text); the code only when it is UCUM (or carries no system)."""
    code = clean(quantity.code) if quantity.system in (None, UCUM) else None
    return code, clean(quantity.unit)


def _factor(analyte: Analyte, quantity: Quantity) -> float:
    key = (analyte, quantity.code if quantity.system in (None, UCUM) else None, quantity.unit)
    factor = _FACTORS.get(key)
    if factor is None:
        try:
            factor = convert(analyte, 1.0, *_unit(quantity)).value
        except UnitError:
            factor = 0.0
        if len(_FACTORS) < _FACTORS_MAX:
            _FACTORS[key] = factor
    return factor


def check_value(analyte: Analyte, holder: Holder) -> LabSkip | None:
    """Why the value in `holder` can't be used, or None when it can."""
    quantity = holder.valueQuantity
    if quantity is None:
        return LabSkip(f"{analyte}: value is not a quantity")
    raw = quantity.value
    if not isinstance(raw, float) or not 0 < raw < _INF:  # text, NaN, inf, zero, negative
        return LabSkip(f"{analyte}: value missing, not a number or not positive")
    if quantity.comparator is not None and quantity.comparator not in _COMPARATORS:
        return LabSkip(f"{analyte}: comparator not usable")
    factor = _factor(analyte, quantity)
    if factor == 0.0:
        try:
            convert(analyte, raw, *_unit(quantity))
        except UnitError as exc:  # the reason, worded by the converter
            return LabSkip(str(exc))
    low, high = PLAUSIBLE[analyte]
    if not low <= raw * factor <= high:
        return LabSkip(f"{analyte}: implausible value")
    return None


def _has_value(holder: Holder) -> bool:
    """Some value[x] was sent (a result of another type is a skip, not a missing value)."""
    return (
        holder.valueQuantity is not None
        or holder.valueString is not None
        or holder.valueCodeableConcept is not None
        or holder.valueInteger is not None
        or holder.valueBoolean is not None
        or holder.valueRange is not None
        or holder.valueRatio is not None
        or holder.valueDateTime is not None
        or holder.valuePeriod is not None
        or holder.valueTime is not None
        or holder.valueSampledData is not None
    )


def read_candidates(obs: Resource, terminology: Terminology) -> list[Candidate | LabSkip]:
    """Results of one Observation, checked but not built: the top-level value, else
    components (one per analyte)."""
    out: list[Candidate | LabSkip] = []
    top = lab_code(terminology, obs.code)
    seen = ""  # analyte with a usable top-level value (components of it are ignored)
    if top is not None and _has_value(obs):
        skip = check_value(top[0], obs)
        out.append((*top, obs) if skip is None else skip)
        seen = top[0] if skip is None else ""
    if obs.component is not None:
        done = {seen} if seen else set()
        for component in listed(obs.component):
            found = lab_code(terminology, component.code)
            if found is None or found[0] in done:
                continue
            skip = check_value(found[0], component)
            if skip is None:
                done.add(found[0])
                out.append((*found, component))
            else:
                out.append(skip)
    if top is not None and not out:
        out.append(LabSkip(f"{top[0]}: no value"))
    return out


def observation_date(obs: Resource, days: dict[str, date | None]) -> tuple[date | None, str]:
    """effective[x] (period: end, else start), else issued; with the raw text for tie-breaks.
    `days` caches parsed timestamps for the call: the results of one panel share one."""
    period = obs.effectivePeriod
    for raw in (
        obs.effectiveDateTime,
        period.end if period is not None else None,
        period.start if period is not None else None,
        obs.effectiveInstant,
        obs.issued,
    ):
        if raw is None:
            continue
        when = days.get(raw)
        if when is None and raw not in days:
            when = days[raw] = parse_date(raw)
        if when is not None:
            return when, raw
    return None, ""


def lab_value(candidate: Candidate, when: date | None, source_id: str | None) -> LabValue:
    """The LabValue of a checked candidate (`check_value` passed: the value is usable)."""
    analyte, code, _rank, holder = candidate
    quantity = holder.valueQuantity
    assert quantity is not None and isinstance(quantity.value, float)
    raw = quantity.value
    comparator = _COMPARATORS.get(quantity.comparator) if quantity.comparator else None
    unit_code, unit_text = _unit(quantity)
    converted = convert(analyte, raw, unit_code, unit_text)
    judged = _judgement(analyte, converted.value, holder, unit_code, unit_text)
    return LabValue(
        analyte=analyte,
        value=converted.value,
        comparator=comparator,
        when=when,
        original=_original(raw, comparator, unit_code, unit_text),
        source_id=source_id,
        code=code,
        interpretation=judged.interpretation,
        note=converted.note,
        reference_low=judged.low,
        reference_high=judged.high,
        ionized=code in IONIZED_CALCIUM,
    )


def _original(
    raw: float, comparator: Comparator | None, unit_code: str | None, unit_text: str | None
) -> str:
    """The value as the lab reported it, e.g. ">60 mL/min/{1.73_m2}"."""
    shown_unit = unit_text or unit_code or ""
    return f"{comparator or ''}{raw:g} {shown_unit}".strip()


class _Judgement(NamedTuple):
    interpretation: Interpretation | None
    low: float | None  # the result's reference range, canonical units
    high: float | None


def _judgement(
    analyte: Analyte,
    value: float,
    holder: Holder,
    unit_code: str | None,
    unit_text: str | None,
) -> _Judgement:
    """The lab's own flag (L/LL/H/HH/N), else the value against its reference range (the first
    range with a bound); the range itself is kept for multiples of the upper limit (CK)."""
    flag: Interpretation | None = None
    for concept in listed(holder.interpretation):
        for coding in listed(concept.coding):
            system, code = clean(coding.system), clean(coding.code)
            if system in _INTERPRETATION_SYSTEMS and code in _INTERPRETATION:
                flag = _INTERPRETATION[code]
                break
        if flag is not None:
            break
    for reference in listed(holder.referenceRange):
        low = _bound(analyte, reference.low, unit_code, unit_text)
        high = _bound(analyte, reference.high, unit_code, unit_text)
        if low is None and high is None:
            continue
        if flag is None:
            if low is not None and value < low:
                flag = "low"
            elif high is not None and value > high:
                flag = "high"
            else:
                flag = "normal"
        return _Judgement(flag, low, high)
    return _Judgement(flag, None, None)


def _bound(
    analyte: Analyte, quantity: Quantity | None, unit_code: str | None, unit_text: str | None
) -> float | None:
    """A reference-range limit in canonical units; a limit without a unit shares the value's."""
    if quantity is None or not isinstance(quantity.value, float) or not math.isfinite(
        quantity.value
    ):
        return None
    own_code, own_text = _unit(quantity)
    try:
        if own_code or own_text:
            return convert(analyte, quantity.value, own_code, own_text).value
        return convert(analyte, quantity.value, unit_code, unit_text).value
    except UnitError:
        return None
