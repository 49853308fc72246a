"""Daily dose in mg from a Dosage, when it can be known exactly.

dose (doseAndRate[].doseQuantity in R4, given as an array or, by real clients, a single
object; Dosage.doseQuantity in STU3) x times per day (timing.repeat frequency/period/
periodUnit, else timing.code such as BID or QHS). A dose in tablets, capsules or mL is turned
into mg with the product's strength. Anything unclear gives None: no dose rather than a
wrong one.
"""

from __future__ import annotations

import functools
from typing import Any

from cds_service.clinical.fhirjson import clean, codings, dicts, number
from cds_service.clinical.strength import Strength

_MASS_MG = {"mg": 1.0, "g": 1000.0, "mcg": 0.001, "ug": 0.001, "µg": 0.001, "microgram": 0.001,
            "milligram": 1.0, "gram": 1000.0}  # fmt: skip
_COUNT = frozenset({
    "tablet", "tab", "tbl", "capsule", "cap", "pill", "each", "ea", "1", "film", "lozenge",
    "troche", "wafer", "packet", "sachet", "granule", "unit dose",
})  # fmt: skip
_VOLUME_ML = {"ml": 1.0, "milliliter": 1.0, "millilitre": 1.0, "cc": 1.0}
_PER_DAY = {"s": 86400.0, "min": 1440.0, "h": 24.0, "d": 1.0, "wk": 1 / 7, "mo": 1 / 30,
            "a": 1 / 365}  # fmt: skip
_TIMING_CODES = {
    "QD": 1.0, "DAILY": 1.0, "QDAY": 1.0, "OD": 1.0, "AM": 1.0, "PM": 1.0, "QAM": 1.0,
    "QPM": 1.0, "QHS": 1.0, "HS": 1.0, "BED": 1.0, "BID": 2.0, "TID": 3.0, "QID": 4.0,
    "QOD": 0.5, "Q1H": 24.0, "Q2H": 12.0, "Q3H": 8.0, "Q4H": 6.0, "Q6H": 4.0, "Q8H": 3.0,
    "Q12H": 2.0, "Q24H": 1.0, "WK": 1 / 7, "MO": 1 / 30,
}  # fmt: skip


def dose_quantity(dosage: dict[str, Any]) -> dict[str, Any] | None:
    """The dose of one Dosage: R4 doseAndRate (array or lone object), else STU3 doseQuantity."""
    for rate in dicts(dosage.get("doseAndRate")):
        quantity = rate.get("doseQuantity")
        if isinstance(quantity, dict):
            return quantity
    quantity = dosage.get("doseQuantity")
    return quantity if isinstance(quantity, dict) else None


def _unit_word(quantity: dict[str, Any]) -> str | None:
    code, unit = quantity.get("code"), quantity.get("unit")
    if (code is None or type(code) is str) and (unit is None or type(unit) is str):
        return _unit_word_of(code, unit)  # cached: dose units are a small vocabulary
    return _unit_word_of.__wrapped__(code, unit)


@functools.lru_cache(maxsize=1024)
def _unit_word_of(code: object, unit: object) -> str | None:
    for raw in (code, unit):
        text = clean(raw)
        if text:
            word = text.lower().strip("{}").strip()
            word = word.removesuffix("(s)")
            if word not in _MASS_MG and word.endswith("s") and word[:-1] in _COUNT:
                word = word[:-1]
            return word
    return None


def dose_mg(quantity: dict[str, Any], strength: Strength | None) -> float | None:
    """One dose in mg: a mass directly, a count or volume through the product strength."""
    value = number(quantity.get("value"))
    unit = _unit_word(quantity)
    if value is None or value <= 0 or unit is None:
        return None
    if unit in _MASS_MG:
        return value * _MASS_MG[unit]
    if strength is None:
        return None
    if unit in _COUNT and strength.per == "unit":
        return value * strength.mg
    if unit in _VOLUME_ML and strength.per == "mL":
        return value * _VOLUME_ML[unit] * strength.mg
    return None


def times_per_day(timing: object) -> float | None:
    """Administrations per day from Timing.repeat, else Timing.code; None when not stated."""
    if not isinstance(timing, dict):
        return None
    repeat = timing.get("repeat")
    unit = repeat.get("periodUnit") if isinstance(repeat, dict) else None
    if isinstance(repeat, dict) and isinstance(unit, str) and unit in _PER_DAY:
        frequency = number(repeat.get("frequency"))
        period = number(repeat.get("period"))
        frequency = 1.0 if repeat.get("frequency") is None else frequency
        if frequency and frequency > 0 and period and period > 0:
            return frequency / period * _PER_DAY[unit]
    code = timing.get("code")
    labels = [c for _s, c, _d in codings(code) if c]
    if isinstance(code, dict) and clean(code.get("text")):
        labels.append(str(clean(code.get("text"))))
    for label in labels:
        per_day = _TIMING_CODES.get(label.upper().replace(" ", ""))
        if per_day is not None:
            return per_day
    return None


def daily_dose_mg(dosage: dict[str, Any], strength: Strength | None) -> float | None:
    """mg per day for one Dosage, or None when dose or frequency is unknown."""
    quantity = dose_quantity(dosage)
    if quantity is None:
        return None
    per_dose = dose_mg(quantity, strength)
    per_day = times_per_day(dosage.get("timing"))
    if per_dose is None or per_day is None:
        return None
    return round(per_dose * per_day, 4)
