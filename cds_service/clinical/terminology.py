"""Terminology: which group a drug, lab or problem code belongs to, as fast dict lookups.

Loaded once at start-up from package data (`data/codes.json`, verified codes copied from the
knowledge base; `data/codes_added.json`, codes verified since, merged in;
`data/groups.yaml`, the hand-written group selections; and the lab codes of the lab table,
`data/labs.yaml`), validated on load, then only read.
Adding a code is a data change, not a code change.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

import yaml

from cds_service.clinical.fhirjson import Coding, clean
from cds_service.clinical.free_text import FreeTextReader
from cds_service.clinical.lab_table import LABS, LabSpec
from cds_service.clinical.strength import Strength, parse_strength
from cds_service.clinical.terminology_coded import build_conditions, build_labs, icd_key
from cds_service.clinical.terminology_drugs import DrugConcept, DrugIndex, GroupRef
from cds_service.clinical.terminology_merge import merge_codes
from cds_service.clinical.terminology_schema import TerminologyError, need
from cds_service.clinical.text import PhraseIndex, words
from cds_service.clinical.types import Analyte

# libyaml's parser when PyYAML was built with it (much faster); the same safe constructor.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = ["MedMatch", "Terminology", "TerminologyError", "get_terminology", "read_data"]

LOINC_SYSTEMS = frozenset({"http://loinc.org", "urn:oid:2.16.840.1.113883.6.1"})
RXNORM_SYSTEMS = frozenset(
    {"http://www.nlm.nih.gov/research/umls/rxnorm", "urn:oid:2.16.840.1.113883.6.88"}
)
ATC_SYSTEMS = frozenset({"http://www.whocc.no/atc", "urn:oid:2.16.840.1.113883.6.73"})
SNOMED_SYSTEMS = frozenset({"http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.96"})
ICD10CM_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10-cm", "urn:oid:2.16.840.1.113883.6.90"})

# In free text, these make a name part of a combination product, not a supplement. A slash
# counts only between names ("calcium carbonate/magnesium"), not in a unit ("400 mg/5 mL").
_COMBINATION_MARKS = ("+", ",", "&", ";")
# The lookbehind starts a match only where a word starts: without it, a long run of letters
# was tried from every position inside it (quadratic; 16,000 letters took 2.5 s).
_SLASH = re.compile(r"(?<![A-Za-z0-9.])([A-Za-z0-9.]*)\s*/\s*([A-Za-z0-9.]*)")
_UNIT_WORDS = frozenset({
    "", "mg", "mcg", "ug", "g", "kg", "ml", "l", "dl", "meq", "mmol", "unt", "unit", "units",
    "iu", "actuat", "puff", "dose", "hr", "h", "day", "d", "tab", "cap",
})  # fmt: skip
_COMBINATION_WORDS = frozenset({
    "and", "with", "dextrose", "glucose", "sodium", "nacl", "saline", "ns", "d5w", "lr",
    "ringer", "ringers", "lactated", "calcium", "aluminum", "aluminium", "simethicone",
    "electrolyte", "electrolytes", "tpn", "peg", "polyethylene", "zinc", "vitamin", "vitamins",
    "multivitamin", "prenatal",
})  # fmt: skip


_DATA = resources.files("cds_service.clinical") / "data"


def _read_yaml(name: str) -> dict[str, Any]:
    try:
        data = yaml.load((_DATA / name).read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise TerminologyError(f"terminology data unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise TerminologyError(f"{name} must hold a mapping")
    return data


@dataclass(frozen=True, slots=True)
class MedMatch:
    """Drug groups a medication belongs to, what matched, and its route when known."""

    groups: frozenset[str]
    matched_by: str | None  # "rxnorm:197391", "atc:M03BX01", "text:baclofen"
    route: str | None


_Hit = tuple[DrugConcept, str]


class Terminology:
    """Read-only lookups built from the terminology data. Build with `load()`."""

    def __init__(
        self,
        codes: dict[str, Any],
        groups: dict[str, Any],
        text_terms: dict[str, Any] | None = None,
        lab_table: Mapping[str, LabSpec] | None = None,
    ) -> None:
        need(isinstance(groups, dict), "(root)", "must be a mapping")
        need("analytes" not in groups, "analytes", "lab codes live in labs.yaml (codes:)")
        drug_specs = groups.get("drug_groups")
        need(isinstance(drug_specs, dict) and bool(drug_specs), "drug_groups", "missing")
        drugs = DrugIndex(codes)
        for gid, spec in cast(dict[str, Any], drug_specs).items():
            drugs.add_group(str(gid), spec)
        self.drug_group_ids = tuple(str(g) for g in cast(dict[str, Any], drug_specs))
        self._rxnorm = {k: a.freeze() for k, a in drugs.rxnorm.items()}
        self._atc = {k: a.freeze() for k, a in drugs.atc.items()}
        self._names: PhraseIndex[DrugConcept] = PhraseIndex(
            (label, acc.freeze()) for label, acc in drugs.names.values() if acc.refs
        )
        self._all_words = tuple(
            (wanted, DrugConcept((GroupRef(gid),)), " ".join(sorted(wanted)))
            for wanted, gid in drugs.all_words
        )
        self._text_vetoes = drugs.text_vetoes
        self._if_combination = drugs.if_combination
        self._supersedes = drugs.supersedes
        self._strengths = drugs.strengths
        labs = build_labs(codes, LABS if lab_table is None else lab_table)
        self._analytes = cast(dict[str, Analyte], labs.analytes)
        # code -> (analyte, code, rank): one dict hit per lab coding on the hot path
        self.lab_codes: Mapping[str, tuple[Analyte, str, int]] = {
            code: (analyte, code, labs.preference[code]) for code, analyte in self._analytes.items()
        }
        self._query_codes = tuple(labs.query_codes)
        conditions = build_conditions(codes, groups.get("condition_groups"))
        self._snomed, self._icd = conditions.snomed, conditions.icd
        self.condition_group_ids = tuple(conditions.group_ids)
        terms = text_terms if text_terms is not None else _read_yaml("text_terms.yaml")
        self.free_text = FreeTextReader(terms, self.condition_group_ids)
        for gid, target in self._if_combination.items():
            need(target in self.drug_group_ids, f"drug_groups.{gid}", f"unknown group {target}")
        self._cached_groups = functools.lru_cache(maxsize=4096)(self._medication_groups)

    @classmethod
    def load(cls) -> Terminology:
        """Read and validate the package data. Raises TerminologyError with the reason."""
        return cls(*read_data())

    # -- drugs ---------------------------------------------------------------------------

    def medication_groups(
        self,
        codings: Iterable[Coding],
        text: str | None = None,
        *,
        dosage_route: str | None = None,
        combination: bool = False,
    ) -> MedMatch:
        """Groups of a medication concept: RxNorm, then ATC, and only if neither matched, a
        whole-word name match on `text` and the codings' displays.

        `dosage_route` is the route the order gives; `combination` says the concept is one
        ingredient of a multi-ingredient medication (supplement groups become *_containing).
        Answers are cached: the terminology never changes and the same drugs recur.
        """
        concept = tuple(codings)
        try:
            return self._cached_groups(concept, text, dosage_route, combination)
        except TypeError:  # unhashable values inside a coding: no caching
            return self._medication_groups(concept, text, dosage_route, combination)

    def _medication_groups(
        self,
        codings: tuple[Coding, ...],
        text: str | None,
        dosage_route: str | None,
        combination: bool,
    ) -> MedMatch:
        hits: list[_Hit] = []
        for system, code, _display in codings:
            if code and system in RXNORM_SYSTEMS:
                concept = self._rxnorm.get(code)
                if concept is not None:
                    hits.append((concept, f"rxnorm:{code}"))
            elif code and system in ATC_SYSTEMS:
                atc = self._atc_concept(code)
                if atc is not None:
                    hits.append((atc, f"atc:{code}"))
        if not hits:
            for candidate in (text, *(display for _s, _c, display in codings)):
                combination |= self._text_hits(candidate, hits)
        return self._resolve(hits, dosage_route, combination)

    def _atc_concept(self, code: str) -> DrugConcept | None:
        key = code.strip().upper()
        for length in (len(key), 5, 4, 3, 1):  # ATC levels: 7, 5, 4, 3, 1 characters
            if length <= len(key) and (concept := self._atc.get(key[:length])) is not None:
                return concept
        return None

    def _text_hits(self, text: str | None, hits: list[_Hit]) -> bool:
        """Add the names found in `text`; True when the text reads as a combination."""
        tokens = words(text)
        if not tokens:
            return False
        token_set = set(tokens)
        for wanted, concept, label in self._all_words:
            if wanted <= token_set:
                hits.insert(0, (concept, f"text:{label}"))
        found = [hit for hit in self._names.find(tokens) if not self._vetoed(hit.value, token_set)]
        hits.extend((hit.value, f"text:{hit.phrase}") for hit in found)
        ingredients = {hit.phrase for hit in found if hit.value.ingredient}
        if not found:
            return False
        return (
            len(ingredients) > 1
            or bool(token_set & _COMBINATION_WORDS)
            or any(mark in (text or "") for mark in _COMBINATION_MARKS)
            or any(_names_slash(m) for m in _SLASH.finditer(text or ""))
        )

    def _vetoed(self, concept: DrugConcept, token_set: set[str]) -> bool:
        """A name match the text itself rules out ("tonic water" names quinine, but is a drink)."""
        vetoes = self._text_vetoes
        groups = [r.group for r in concept.refs if r.group in vetoes]
        return any(not vetoes[group].isdisjoint(token_set) for group in groups)

    def _resolve(self, hits: list[_Hit], dosage_route: str | None, combination: bool) -> MedMatch:
        product_route = None
        for concept, _label in hits:
            if concept.product and concept.route:
                product_route = concept.route
                break
        groups: set[str] = set()
        matched_by: str | None = None
        concept_route: str | None = None
        for concept, label in hits:
            gate_route = dosage_route or concept.route
            added = [r.group for r in concept.refs if concept.product or r.applies(gate_route)]
            if added:
                groups.update(added)
                matched_by = matched_by or label
                concept_route = concept_route or concept.route
        if combination:
            groups = {self._if_combination.get(g, g) for g in groups}
        for group in list(groups):
            groups -= self._supersedes.get(group, frozenset())
        route = product_route or dosage_route or concept_route
        return MedMatch(frozenset(groups), matched_by if groups else None, route)

    def strength(self, rxnorm_code: str | None, display: str | None = None) -> Strength | None:
        """mg per unit (or per mL) of a product: from the known product list, else parsed from
        the display ("Cyclobenzaprine Tablet 10mg" -> 10 mg per unit)."""
        if rxnorm_code and rxnorm_code in self._strengths:
            return self._strengths[rxnorm_code]
        return parse_strength(display)

    # -- labs ----------------------------------------------------------------------------

    def lab_code(self, system: object, code: object) -> tuple[Analyte, str, int] | None:
        """The analyte a LOINC coding measures, from its raw JSON values: (analyte, code,
        preference rank), or None. A coding without a system counts if the code is one of ours.

        A system that is not a string reads as absent, as does a code that is not a string.
        """
        if isinstance(system, str) and system not in LOINC_SYSTEMS:
            return None
        if type(code) is str:
            found = self.lab_codes.get(code)  # exact match: a clean code, the usual case
            if found is not None:
                return found
        cleaned = clean(code)
        return self.lab_codes.get(cleaned) if cleaned else None

    def observation_query_codes(self) -> list[str]:
        """`http://loinc.org|<code>` tokens for the prefetch Observation query."""
        return [f"http://loinc.org|{code}" for code in self._query_codes]

    # -- conditions ----------------------------------------------------------------------

    def condition_groups(self, codings: Iterable[Coding]) -> frozenset[str]:
        """Condition groups named by SNOMED CT or ICD-10-CM codings (ICD with or without the
        dot). A coding without a system is read by its shape: digits are SNOMED CT."""
        found: set[str] = set()
        for system, code, _display in codings:
            if not code:
                continue
            if system in SNOMED_SYSTEMS or (system is None and code.isdigit()):
                found |= self._snomed.get(code, frozenset())
            elif system in ICD10CM_SYSTEMS or system is None:
                found |= self._icd.get(icd_key(code), frozenset())
        return frozenset(found)


def read_data() -> tuple[dict[str, Any], dict[str, Any]]:
    """The package data: codes.json merged with codes_added.json, and groups.yaml."""
    try:
        codes = json.loads((_DATA / "codes.json").read_text(encoding="utf-8"))
        added = json.loads((_DATA / "codes_added.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TerminologyError(f"terminology data unreadable: {exc}") from exc
    if not isinstance(codes, dict):
        raise TerminologyError("codes.json must hold a mapping")
    return merge_codes(codes, added), _read_yaml("groups.yaml")


def _names_slash(match: re.Match[str]) -> bool:
    """A slash between two words that are neither numbers nor units: an ingredient list."""
    return not any(
        side.lower() in _UNIT_WORDS or side.replace(".", "").isdigit() for side in match.groups()
    )


@functools.cache
def get_terminology() -> Terminology:
    """The process-wide Terminology, loaded on first use (call it at start-up)."""
    return Terminology.load()
