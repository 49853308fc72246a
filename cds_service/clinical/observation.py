"""One Observation -> the lab results it carries, in canonical units, or a typed reason why not.

A result may sit in `valueQuantity` or, as in Observation-f205 (eGFR only in `component`,
">60"), in a component whose code names the analyte. Values that can't be trusted (strings,
NaN, negative, physiologically absurd, unknown unit) raise `LabSkip` with a short reason the
caller turns into a data note. Nothing else is raised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any, NamedTuple

from cds_service.clinical.fhirjson import clean, codings, dicts, number, parse_date
from cds_service.clinical.lab_table import IONIZED_CALCIUM, PLAUSIBLE
from cds_service.clinical.terminology import LOINC_SYSTEMS, Terminology
from cds_service.clinical.types import Analyte, Comparator, Interpretation, LabValue
from cds_service.clinical.units import Converted, UnitError, convert

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


class LabSkip(ValueError):
    """A result that was recognised but cannot be used; the message says why (no PHI)."""


# (analyte, code as read, preference rank) of a coding that names one of our analytes
LabCode = tuple[Analyte, str, int]
# A result recognised and checked, not yet built: (analyte, code, rank, value holder). Only the
# result chosen for its analyte is built into a LabValue (`lab_value`).
Candidate = tuple[Analyte, str, int, dict[str, Any]]


def lab_code(terminology: Terminology, concept: object) -> LabCode | None:
    """The first coding of a CodeableConcept that names one of our analytes (hot path: no
    display is read)."""
    if not isinstance(concept, dict):
        return None
    for coding in dicts(concept.get("coding")):
        found = terminology.lab_code(coding.get("system"), coding.get("code"))
        if found is not None:
            return found
    return None


# (analyte, UCUM code, unit text) -> canonical-unit factor, 0.0 when `convert` refuses it.
# Units come from a small vocabulary; the size cap keeps junk units from growing it.
_FACTORS: dict[tuple[str, object, object], float] = {}
_FACTORS_MAX = 1024
_INF = math.inf


def quick_candidate(
    obs: dict[str, Any], lab_codes: Mapping[str, LabCode], days: dict[str, date | None]
) -> tuple[Candidate, date, str] | None:
    """The usual lab Observation, checked in one pass: (candidate, date, date as written).

    The usual shape: a final/amended/corrected status, a LOINC coding with a clean code, a
    plain positive valueQuantity in a known unit, no components, an effectiveDateTime. None
    means "not that shape": `read_candidates` and `observation_date` decide (same rules,
    slower). Written as one function on purpose: it runs once per Observation. `days` holds
    the caller's parsed effectiveDateTime strings: the results of one panel share one.
    """
    status = obs.get("status")
    if type(status) is not str or status not in VALID_STATUSES or "component" in obs:
        return None
    concept = obs.get("code")
    codings = concept.get("coding") if type(concept) is dict else None
    if type(codings) is not list:
        return None
    found = None
    for coding in codings:  # the first coding naming an analyte, as lab_code reads it
        if type(coding) is not dict:
            continue
        system, code = coding.get("system"), coding.get("code")
        if type(code) is not str or (isinstance(system, str) and system not in LOINC_SYSTEMS):
            continue  # cannot name an analyte
        found = lab_codes.get(code)
        if found is not None:
            break
        if not code.isascii() or code != code.strip():
            return None  # cleaning might make it one of ours: let lab_code decide
    quantity = obs.get("valueQuantity")
    if found is None or type(quantity) is not dict or "comparator" in quantity:
        return None
    value = quantity.get("value")
    if (type(value) is not float and type(value) is not int) or not 0 < value < _INF:
        return None
    system, code, unit = quantity.get("system"), quantity.get("code"), quantity.get("unit")
    if system is not None and system != UCUM:
        return None
    try:
        factor = _FACTORS.get((found[0], code, unit))
    except TypeError:  # a list or object where a string belongs
        return None
    if factor is None:
        factor = _unit_factor(found[0], code, unit)
    low, high = PLAUSIBLE[found[0]]
    raw = obs.get("effectiveDateTime")
    if type(raw) is not str or not low <= float(value) * factor <= high:  # factor 0.0: unknown
        return None
    when = days.get(raw)
    if when is None:
        when = days[raw] = parse_date(raw)
        if when is None:
            return None
    return (*found, obs), when, raw


def _unit_factor(analyte: Analyte, code: object, unit: object) -> float:
    """`convert`'s factor for a UCUM (or system-less) unit code and text; 0.0 when unknown."""
    try:
        factor = convert(analyte, 1.0, clean(code), clean(unit)).value
    except UnitError:
        factor = 0.0
    if len(_FACTORS) < _FACTORS_MAX:
        _FACTORS[(analyte, code, unit)] = factor
    return factor


def observation_date(obs: dict[str, Any]) -> tuple[date | None, str]:
    """effective[x] (period: end, else start), else issued; with the raw text for tie-breaks."""
    raw: object = obs.get("effectiveDateTime")
    when = parse_date(raw)
    if when is not None:  # the usual case: nothing else is read
        return when, str(raw)
    period = obs.get("effectivePeriod")
    candidates = (
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


def read_candidates(obs: dict[str, Any], terminology: Terminology) -> list[Candidate | LabSkip]:
    """Results of one Observation, checked but not built: the top-level value, else
    components (one per analyte)."""
    out: list[Candidate | LabSkip] = []
    top = lab_code(terminology, obs.get("code"))
    seen = ""  # analyte with a usable top-level value (components of it are ignored)
    if top is not None and _has_value(obs):
        skip = check_value(top[0], obs)
        out.append((*top, obs) if skip is None else skip)
        seen = top[0] if skip is None else ""
    components = obs.get("component")
    if components is not None:
        _read_components(components, terminology, out, {seen} if seen else set())
    if top is not None and not out:
        out.append(LabSkip(f"{top[0]}: no value"))
    return out


def _read_components(
    components: object, terminology: Terminology, out: list[Candidate | LabSkip], seen: set[str]
) -> None:
    for component in dicts(components):
        found = lab_code(terminology, component.get("code"))
        if found is None or found[0] in seen:
            continue
        skip = check_value(found[0], component)
        if skip is None:
            seen.add(found[0])
            out.append((*found, component))
        else:
            out.append(skip)


def check_value(analyte: Analyte, holder: dict[str, Any]) -> LabSkip | None:
    """Why the value in `holder` can't be used, or None when it can."""
    try:
        _quantity(analyte, holder)
    except LabSkip as exc:
        return exc
    except UnitError as exc:
        return LabSkip(str(exc))
    return None


def _has_value(holder: dict[str, Any]) -> bool:
    return "valueQuantity" in holder or any(key.startswith("value") for key in holder)


def _quantity(
    analyte: Analyte, holder: dict[str, Any]
) -> tuple[float, Comparator | None, str | None, str | None, Converted]:
    """(value as written, comparator, unit code, unit text, converted); raises LabSkip or
    UnitError when the value can't be used."""
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
    return raw, comparator, unit_code, unit_text, converted


def lab_value(candidate: Candidate, when: date | None, source_id: str | None) -> LabValue:
    """The LabValue of a checked candidate: what `_parse` reads, without the LabResult."""
    analyte, code, _rank, holder = candidate
    raw, comparator, unit_code, unit_text, converted = _quantity(analyte, holder)
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


def _unit(quantity: dict[str, Any]) -> tuple[str | None, str | None]:
    """(code, text); the code only when it is UCUM (or carries no system)."""
    system = quantity.get("system")
    code = clean(quantity.get("code")) if system in (None, UCUM) else None
    return code, clean(quantity.get("unit"))


class _Judgement(NamedTuple):
    interpretation: Interpretation | None
    low: float | None  # the result's reference range, canonical units
    high: float | None


def _judgement(
    analyte: Analyte,
    value: float,
    holder: dict[str, Any],
    unit_code: str | None,
    unit_text: str | None,
) -> _Judgement:
    """The lab's own flag (L/LL/H/HH/N), else the value against its reference range (the first
    range with a bound); the range itself is kept for multiples of the upper limit (CK)."""
    flag: Interpretation | None = None
    for concept in dicts(holder.get("interpretation")):
        for system, code, _display in codings(concept):
            if system in _INTERPRETATION_SYSTEMS and code in _INTERPRETATION:
                flag = _INTERPRETATION[code]
                break
        if flag is not None:
            break
    for reference in dicts(holder.get("referenceRange")):
        low = _bound(analyte, reference.get("low"), unit_code, unit_text)
        high = _bound(analyte, reference.get("high"), unit_code, unit_text)
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
