"""Defensive readers for FHIR JSON (plain dicts), shared by the clinical readers.

Inputs come from EHRs and test servers of every FHIR version and quality. Nothing here
raises: a field of the wrong shape reads as absent, so one malformed resource never costs
the patient the rest of the evaluation.
"""

from __future__ import annotations

import functools
import math
from datetime import date
from typing import Any

# Zero-width and BOM characters seen in real displays (PDDI, Synthea): invisible, but they
# break word matching and string comparison.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)

Coding = tuple[str | None, str | None, str | None]  # (system, code, display)


def visible(text: str) -> str:
    """`text` without invisible characters (nothing else changes)."""
    return text if text.isascii() else text.translate(_INVISIBLE)


def clean(text: object) -> str | None:
    """A string without invisible characters and surrounding space; None if empty or not text."""
    if not isinstance(text, str):
        return None
    cleaned = (text if text.isascii() else text.translate(_INVISIBLE)).strip()
    return cleaned or None


def as_list(value: object) -> list[Any]:
    """A FHIR array that some clients send as a single object: always a list."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    return [value]


def dicts(value: object) -> list[dict[str, Any]]:
    """The dict items of a FHIR array (or of a lone object where an array belongs).

    A list, not a generator: callers often stop at the first match, and closing a suspended
    generator costs more than building the (short) list.
    """
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return [value] if isinstance(value, dict) else []


def codings(concept: object) -> list[Coding]:
    """(system, code, display) of each coding of a CodeableConcept; [] for anything else."""
    if not isinstance(concept, dict):
        return []
    out: list[Coding] = []
    for coding in as_list(concept.get("coding")):  # as dicts(), without a generator
        if isinstance(coding, dict):
            system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
            out.append((clean(system), clean(code), clean(display)))
    return out


def first_code(concept: object) -> str | None:
    """The first non-empty code of a CodeableConcept, cleaned (displays are not read)."""
    if isinstance(concept, dict):
        for coding in as_list(concept.get("coding")):
            if isinstance(coding, dict) and (code := clean(coding.get("code"))):
                return code
    return None


def read_concept(concept: object) -> tuple[list[Coding], str | None]:
    """`codings(concept)` and what a clinician would read: its text, else the first display
    (the codings are read once)."""
    found = codings(concept)
    if not isinstance(concept, dict):
        return found, None
    text = clean(concept.get("text"))
    if text:
        return found, text
    for _system, _code, display in found:  # a loop, not next(generator): cheaper
        if display:
            return found, display
    return found, None


_NORMALISE_UNIT = str.maketrans({"µ": "u", "μ": "u", "²": "2"} | dict.fromkeys("{}_^ \t·"))


@functools.lru_cache(maxsize=4096)
def normalise_unit(unit: str | None) -> str | None:
    """Comparable unit text: mL/min/{1.73_m2} -> ml/min/1.73m2, µmol/L -> umol/l (here, not
    in units.py, because the lab table writes its units this way and units.py reads it)."""
    text = clean(unit)
    if not text:
        return None
    return text.lower().translate(_NORMALISE_UNIT) or None


def number(value: object) -> float | None:
    """A finite JSON number (bool excluded: True is not 1 mmol/L); else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def parse_date(value: object) -> date | None:
    """The calendar date of a FHIR date/dateTime/instant, as written (no time-zone shift).

    Partial dates read as their first day ("2020-05" is 1 May 2020). None when unparsable.
    """
    if not isinstance(value, str) or len(value) < 4:
        return None
    text = value.strip()
    try:
        if len(text) >= 10 and text[4] == "-" and text[7] == "-":
            return date.fromisoformat(text[:10])
        if len(text) == 7 and text[4] == "-":
            return date(int(text[:4]), int(text[5:7]), 1)
        if len(text) == 4 and text.isdigit():
            return date(int(text), 1, 1)
    except ValueError:
        return None
    return None


def reference_key(resource: dict[str, Any]) -> str | None:
    """The resource's "Type/id" when it has a usable id, else None."""
    rtype = resource.get("resourceType")
    rid = resource.get("id")
    if isinstance(rtype, str) and isinstance(rid, str) and rid.strip():
        return f"{rtype}/{rid.strip()}"
    return None
