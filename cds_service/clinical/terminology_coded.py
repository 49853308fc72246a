"""Analytes (LOINC: codes.json + labs.yaml) and condition groups (SNOMED CT, ICD-10-CM:
codes.json + groups.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_service.clinical.lab_table import LabSpec
from cds_service.clinical.terminology_schema import (
    TerminologyError,
    code_of,
    listing,
    mapping,
    need,
    str_list,
)

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
_LABS = "labs.yaml"  # where the lab code selections live


def icd_key(code: str) -> str:
    """ICD-10-CM codes compare without the dot and case: "n18.4" == "N184"."""
    return code.replace(".", "").strip().upper()


@dataclass(slots=True)
class LabIndex:
    analytes: dict[str, str] = field(default_factory=dict)  # LOINC -> analyte
    preference: dict[str, int] = field(default_factory=dict)  # LOINC -> rank (0 = best)
    query_codes: list[str] = field(default_factory=list)  # LOINC codes for the prefetch query


def build_labs(codes: dict[str, Any], labs: Mapping[str, LabSpec]) -> LabIndex:
    """The LOINC codes of every analyte of the lab table (its `codes:` selections), each
    checked against codes.json: a lab whose codes select nothing stops start-up."""
    loinc = mapping(codes.get("loinc"), "loinc", "codes.json has no loinc section", _LABS)
    index = LabIndex()
    for analyte, lab in labs.items():
        where = f"{analyte}.codes"
        rule = dict(lab.codes)
        unknown = set(rule) - {"from", "also", "exclude", "prefer", "query"}
        need(not unknown, where, f"unknown keys {sorted(unknown)}", _LABS)
        names = [str(rule.get("from")), *str_list(rule.get("also", []), f"{where}.also", _LABS)]
        available = []
        for name in names:
            section = listing(loinc.get(name), where, f"from: no loinc.{name}", _LABS)
            found = (code_of(e, where) for e in section if isinstance(e, dict))
            available += [c for c in found if c]
        excluded = str_list(rule.get("exclude", []), f"{where}.exclude", _LABS)
        preferred = str_list(rule.get("prefer", []), f"{where}.prefer", _LABS)
        for code in excluded + preferred:
            need(code in available, where, f"{code} is not in loinc.{rule.get('from')}", _LABS)
        chosen = [c for c in available if c not in excluded]
        need(bool(chosen), where, "selects no code", _LABS)
        for code in sorted(lab.ionized):
            need(code in chosen, f"{analyte}.ionized", f"{code} is not one of its codes", _LABS)
        for code in chosen:
            need(code not in index.analytes, where, f"{code} already in another analyte", _LABS)
            index.analytes[code] = analyte
            index.preference[code] = preferred.index(code) if code in preferred else len(preferred)
        if rule.get("query", True):
            index.query_codes.extend(chosen)
    return index


@dataclass(slots=True)
class ConditionIndex:
    snomed: dict[str, frozenset[str]] = field(default_factory=dict)
    icd: dict[str, frozenset[str]] = field(default_factory=dict)  # keyed by icd_key()
    group_ids: list[str] = field(default_factory=list)


def build_conditions(codes: dict[str, Any], spec: object) -> ConditionIndex:
    sections = mapping(codes.get("conditions"), "condition_groups", "codes.json has no conditions")
    spec = mapping(spec, "condition_groups")
    snomed: dict[str, set[str]] = {}
    icd: dict[str, set[str]] = {}
    index = ConditionIndex()
    for gid, selectors in spec.items():
        where = f"condition_groups.{gid}"
        selectors = listing(selectors, where)
        need(bool(selectors), where, "must not be empty")
        count = 0
        for sel in selectors:
            sel = mapping(sel, where, "each selector must be a mapping")
            need(not set(sel) - {"from", "codes", "exclude", "tag_field"}, where, "unknown keys")
            source = str(sel.get("from"))
            section = listing(sections.get(source), where, f"from: no conditions.{source}")
            for entry, code in _pick(section, sel, where):
                groups = {gid}
                tag = sel.get("tag_field")
                if tag and isinstance(entry.get(tag), str):
                    groups.add(f"{gid}:{entry[tag]}")
                system = entry.get("system")
                if system == SNOMED:
                    snomed.setdefault(code, set()).update(groups)
                elif system == ICD10CM:
                    icd.setdefault(icd_key(code), set()).update(groups)
                else:
                    raise TerminologyError(f"codes.json conditions: {code} has system {system!r}")
                count += 1
        need(count > 0, where, "selects no code")
        index.group_ids.append(gid)
    index.snomed = {k: frozenset(v) for k, v in snomed.items()}
    index.icd = {k: frozenset(v) for k, v in icd.items()}
    return index


def _pick(section: list[Any], sel: dict[str, Any], where: str) -> list[tuple[dict[str, Any], str]]:
    entries = [(e, code_of(e, where)) for e in section if isinstance(e, dict) and "code" in e]
    present = [(e, c) for e, c in entries if c]  # code null = UNVERIFIED placeholder: skipped
    available = {c for _e, c in present}
    wanted = str_list(sel["codes"], f"{where}.codes") if "codes" in sel else None
    excluded = str_list(sel.get("exclude", []), f"{where}.exclude")
    for code in (wanted or []) + excluded:
        need(code in available, where, f"{code} is not in conditions.{sel.get('from')}")
    return [(e, c) for e, c in present if (wanted is None or c in wanted) and c not in excluded]
