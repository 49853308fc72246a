"""The lab table (data/labs.yaml): everything the service needs to read one analyte.

Adding a lab is one entry in labs.yaml plus its name in `Analyte` (a Literal, so that mypy
checks every `facts.lab("...")`). The table is checked whole when this module is imported,
i.e. at start-up: each entry has its display name, canonical unit (with factor 1), unit
converters, plausible range and code selection, and the entries are exactly `Analyte`. The
codes themselves are checked against codes.json when the terminology loads
(terminology_coded.build_labs). A missing piece stops start-up with a message naming it,
instead of a KeyError on the first patient who has that lab.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

import yaml

from cds_service.clinical.fhirjson import normalise_unit
from cds_service.clinical.terminology_schema import TerminologyError

Analyte = Literal[
    "potassium", "magnesium", "egfr", "creatinine", "calcium", "creatine_kinase", "tsh", "sodium"
]
ANALYTES: tuple[Analyte, ...] = get_args(Analyte)

_REQUIRED = ("display", "unit", "units", "plausible", "codes")
_OPTIONAL = ("notes", "ionized")
_RATIO = re.compile(r"^\s*([0-9.]+)\s*/\s*([0-9.]+)\s*$")


@dataclass(frozen=True, slots=True)
class LabSpec:
    """One analyte, as labs.yaml defines it."""

    name: Analyte
    display: str  # the label a card shows
    unit: str  # canonical: LabValue.value is in this unit
    factors: Mapping[str, float]  # normalised unit spelling -> factor to `unit`
    notes: Mapping[str, str]  # normalised unit -> note on a value reported in it
    plausible: tuple[float, float]  # canonical unit; outside it a value is a data error
    codes: Mapping[str, Any]  # LOINC selection from codes.json (terminology_coded.build_labs)
    ionized: frozenset[str]  # codes of ionized calcium (another normal range)


def read_lab_table() -> dict[str, Any]:
    """labs.yaml as written (a mapping of analyte -> entry), not yet checked."""
    path = resources.files("cds_service.clinical") / "data" / "labs.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise TerminologyError(f"labs.yaml unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise TerminologyError("labs.yaml must hold a mapping of analyte -> entry")
    return data


def check_lab_table(raw: Mapping[str, Any]) -> dict[str, LabSpec]:
    """Every entry complete and consistent, and the entries exactly `Analyte`, in file order."""
    for analyte in ANALYTES:
        _need(analyte in raw, analyte, "missing: every Analyte (lab_table.py) needs an entry")
    table: dict[str, LabSpec] = {}
    for name, entry in raw.items():
        _need(name in ANALYTES, str(name), "not an Analyte: add it to Analyte in lab_table.py")
        table[name] = _entry(cast(Analyte, name), entry)
    return table


def _entry(name: Analyte, entry: object) -> LabSpec:
    _need(isinstance(entry, dict), name, "must be a mapping")
    assert isinstance(entry, dict)
    missing = [key for key in _REQUIRED if entry.get(key) in (None, "", [], {})]
    _need(not missing, name, f"missing {', '.join(missing)} (every lab needs {_REQUIRED})")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    _need(not unknown, name, f"unknown keys {unknown}")
    display, unit = entry["display"], entry["unit"]
    _need(isinstance(display, str) and display.strip() == display, name, "display: plain text")
    _need(isinstance(unit, str) and normalise_unit(unit) is not None, name, "unit: a unit")
    factors = _factors(name, entry["units"])
    _need(
        factors.get(str(normalise_unit(unit))) == 1.0,
        name,
        f"units: the canonical unit {unit!r} needs factor 1",
    )
    notes = entry.get("notes") or {}
    _need(isinstance(notes, dict), name, "notes: a mapping of unit -> text")
    for spelling, note in notes.items():
        _need(spelling in factors, name, f"notes: {spelling!r} is not one of its units")
        _need(isinstance(note, str) and bool(note.strip()), name, f"notes.{spelling}: text")
    codes = entry["codes"]
    _need(isinstance(codes, dict) and bool(codes.get("from")), name, "codes: needs from:")
    ionized = entry.get("ionized") or []
    _need(name == "calcium" or not ionized, name, "ionized: calcium only (rules/levels.py)")
    _need(all(isinstance(c, str) for c in ionized), name, "ionized: a list of codes")
    return LabSpec(
        name=name,
        display=display,
        unit=unit,
        factors=MappingProxyType(factors),
        notes=MappingProxyType(dict(notes)),
        plausible=_range(name, entry["plausible"]),
        codes=MappingProxyType(dict(codes)),
        ionized=frozenset(ionized),
    )


def _factors(name: str, units: object) -> dict[str, float]:
    _need(isinstance(units, dict) and bool(units), name, "units: a mapping of unit -> factor")
    assert isinstance(units, dict)
    factors: dict[str, float] = {}
    for spelling, factor in units.items():
        _need(
            isinstance(spelling, str) and normalise_unit(spelling) == spelling,
            name,
            f"units: {spelling!r} is not normalised (write {normalise_unit(str(spelling))!r})",
        )
        factors[spelling] = _factor(name, spelling, factor)
    return factors


def _factor(name: str, spelling: str, factor: object) -> float:
    """A number, or "a / b" (computed as a / b, so that the float equals the Python one)."""
    value: float | None = None
    if isinstance(factor, int | float) and not isinstance(factor, bool):
        value = float(factor)
    elif isinstance(factor, str) and (ratio := _RATIO.match(factor)):
        value = float(ratio.group(1)) / float(ratio.group(2))
    ok = value is not None and math.isfinite(value) and value > 0
    _need(ok, name, f"units.{spelling}: {factor!r} is not a positive number or 'a / b'")
    assert value is not None
    return value


def _range(name: str, bounds: object) -> tuple[float, float]:
    numbers = isinstance(bounds, list) and len(bounds) == 2 and all(
        isinstance(b, int | float) and not isinstance(b, bool) for b in bounds
    )
    _need(numbers, name, "plausible: [low, high] in the canonical unit")
    assert isinstance(bounds, list)
    low, high = float(bounds[0]), float(bounds[1])
    _need(0 < low < high, name, "plausible: needs 0 < low < high")
    return low, high


def _need(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise TerminologyError(f"labs.yaml {where}: {problem}")


LABS: Mapping[str, LabSpec] = MappingProxyType(check_lab_table(read_lab_table()))
# Derived lookups, plain dicts: some are read per Observation.
CANONICAL_UNITS: dict[str, str] = {name: lab.unit for name, lab in LABS.items()}
PLAUSIBLE: dict[str, tuple[float, float]] = {name: lab.plausible for name, lab in LABS.items()}
IONIZED_CALCIUM: frozenset[str] = LABS["calcium"].ionized
LAB_LABELS: dict[str, str] = {name: lab.display for name, lab in LABS.items()}  # card labels
