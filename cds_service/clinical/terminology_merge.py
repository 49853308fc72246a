"""codes_added.json: verified codes added after the knowledge-base copy, merged at start-up.

codes.json stays byte for byte the knowledge base's file; codes verified later live in
codes_added.json with their own provenance (its `meta`). Merging refuses a section defined
in both files and a code defined twice (in both files, or in two sections of
codes_added.json), so no code can carry two provenances that might disagree. A code that
belongs to several groups is listed once and selected by each group in groups.yaml.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cds_service.clinical.terminology_schema import TerminologyError

# The kinds of section codes_added.json may add to.
MERGEABLE = ("rxnorm_groups", "conditions", "loinc")
_ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def merge_codes(base: dict[str, Any], added: object) -> dict[str, Any]:
    """codes.json with the sections of codes_added.json added (a new mapping)."""
    if not isinstance(added, dict):
        raise TerminologyError("codes_added.json must hold a mapping")
    meta = added.get("meta")
    if not isinstance(meta, dict) or not meta.get("date") or not meta.get("sources"):
        raise TerminologyError("codes_added.json meta must give its date and sources")
    unknown = sorted(set(added) - {"meta", *MERGEABLE})
    if unknown:
        raise TerminologyError(f"codes_added.json: cannot add {unknown}")
    merged = dict(base)
    for kind in MERGEABLE:
        extra = added.get(kind)
        if extra is None:
            continue
        if not isinstance(extra, dict):
            raise TerminologyError(f"codes_added.json {kind} must be a mapping")
        have = base.get(kind) or {}
        twice = sorted(set(extra) & set(have))
        if twice:
            raise TerminologyError(f"codes_added.json {kind}: {twice} already in codes.json")
        seen = {key: f"codes.json {kind}.{name}" for name, v in have.items() for key in _keys(v)}
        for name, section in extra.items():
            for key in _keys(section):
                if key in seen:
                    raise TerminologyError(
                        f"codes_added.json {kind}.{name}: {key[0]} {key[1]} is already "
                        f"defined in {seen[key]}"
                    )
                seen[key] = f"codes_added.json {kind}.{name}"
        merged[kind] = {**have, **extra}
    return merged


def _keys(section: object) -> Iterator[tuple[str, str]]:
    """(system, code) of every coded entry of a section: a list of entries (conditions) or a
    mapping of such lists (a drug section's ingredients, products, brand names, ATC...)."""
    lists = section.values() if isinstance(section, dict) else [section]
    for entries in lists:
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("code"), str):
                system, code = str(entry.get("system")), entry["code"].strip()
                if system == _ICD10CM:
                    code = code.replace(".", "").upper()
                yield system, code
