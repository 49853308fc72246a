"""Product strength from an RxNorm-style name, to turn "1 tablet TID" into mg per day.

"baclofen 10 MG Oral Tablet" is 10 mg per unit; "baclofen 1 MG/ML Oral Solution" is 1 mg
per mL; "1 ML baclofen 0.05 MG/ML Injection" is 0.05 mg per mL (the leading "1 ML" is the
pack size). A name with several strengths (a combination) or none in mg has no strength:
the dose is then unknown rather than guessed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from cds_service.clinical.fhirjson import clean

Per = Literal["unit", "mL"]

_TO_MG = {"mg": 1.0, "mcg": 0.001, "ug": 0.001, "g": 1000.0}
_STRENGTH = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)\s*(mg|mcg|ug|g|meq|mmol|unt|units?|iu|%)(?![a-z])"
    r"(?:\s*(?:/|per)\s*(\d+(?:\.\d+)?)?\s*(ml|l)\b)?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Strength:
    """mg of drug in one unit (tablet, capsule, film...) or in one mL."""

    mg: float
    per: Per


def parse_strength(name: str | None) -> Strength | None:
    """The single mg strength in a product name, or None (no strength, or several)."""
    text = clean(name)
    return _strength(text) if text else None


@functools.lru_cache(maxsize=4096)  # product names recur across orders
def _strength(text: str) -> Strength | None:
    found = _STRENGTH.findall(text)
    if len(found) != 1:
        return None
    amount, unit, denominator, volume = found[0]
    factor = _TO_MG.get(unit.lower())
    if factor is None:
        return None
    mg = float(amount) * factor
    if not volume:
        return Strength(mg, "unit") if mg > 0 else None
    per_ml = float(denominator) if denominator else 1.0
    if volume.lower() == "l":
        per_ml *= 1000.0
    if mg <= 0 or per_ml <= 0:
        return None
    return Strength(mg / per_ml, "mL")
