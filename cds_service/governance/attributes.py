"""ONC HTI-1 source attributes of each rule (45 CFR 170.315(b)(11), evidence-based DSIs).

For every rule: its bibliographic citations (the sources and references of its cards, from
`cards/`), the developer, the funding source of the implementation, release and revision
dates (`data/source_attributes.yaml`), and whether it uses race, ethnicity, language, sexual
orientation, gender identity, sex, date of birth, social determinants of health or health
status assessments. Those yes/no answers are data too, and a test derives them from what each
rule actually reads (`FACT_USES`, `LAB_USES`, `CONDITION_USES` say which data element each
read is), so a rule that starts reading something new fails the test until its answers do.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from cds_service.cards.catalog import CardCatalog
from cds_service.rules import CARD_SPECS, RULE_IDS

# The HTI-1 list, in the regulation's order, with how we print each.
ELEMENTS: Mapping[str, str] = {
    "race": "Race",
    "ethnicity": "Ethnicity",
    "language": "Language",
    "sexual_orientation": "Sexual orientation",
    "gender_identity": "Gender identity",
    "sex": "Sex",
    "date_of_birth": "Date of birth",
    "social_determinants": "Social determinants of health",
    "health_status_assessments": "Health status assessments",
}

# Which HTI-1 data elements each patient fact is (clinical.types.PatientFacts). Every field is
# listed, so a new one must be classified before the tests pass.
FACT_USES: Mapping[str, tuple[str, ...]] = {
    "patient_id": (),
    "as_of": (),
    "age_years": ("date_of_birth",),  # computed from Patient.birthDate
    "sex": ("sex",),  # Patient.gender, read as administrative sex
    "labs": (),  # per analyte: LAB_USES
    "conditions": (),  # per condition group: CONDITION_USES
    "active_medications": (),
    "data_notes": (),
}
# An eGFR the lab did not report is computed from creatinine with age and sex (CKD-EPI 2021,
# the race-free equation): a rule reading eGFR may use both.
LAB_USES: Mapping[str, tuple[str, ...]] = {"egfr": ("date_of_birth", "sex")}
# Condition groups that are HTI-1 data elements beyond a problem list (USCDI "Health Status
# Assessments": pregnancy, functional, disability, mental or cognitive status, smoking...;
# "Social determinants": housing, food, transport...). Every group is listed.
CONDITION_USES: Mapping[str, tuple[str, ...]] = {
    "22q11_2_deletion": (),
    "asthma": (),
    "babesiosis": (),
    "benzodiazepine_beers_exception": (),
    "cardiac_arrhythmia": (),
    "cirrhosis": (),
    "ckd": (),
    "ckd_g4_g5": (),
    "constipation": (),
    "drug_induced_myopathy_or_rhabdomyolysis": (),
    "esrd_dialysis": (),
    "hepatic_encephalopathy": (),
    "hyperkalemia": (),
    "hypermagnesemia": (),
    "hypocalcemia": (),
    "hypokalemia": (),
    "hypomagnesemia": (),
    "hypophosphatemia": (),
    "hypothyroidism": (),
    "juvenile_idiopathic_arthritis": (),
    "kidney_stones": (),
    "low_back_pain_or_spasm": (),
    "malaria": (),
    "muscle_cramp": (),
    "palliative_or_hospice_care": (),
    "pre_eclampsia_eclampsia": (),
    "pregnancy": ("health_status_assessments",),  # USCDI: pregnancy status
    "pseudobulbar_affect": (),
    "radiculopathy": (),
    "seizure_disorder": (),
    "torsades_de_pointes": (),
}

EXTENSION_KEY = "org.example.cds.hti1SourceAttributes"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Citation:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class SourceAttributes:
    rule_id: str
    citations: tuple[Citation, ...]
    developer: str
    funding: str
    released: date | None  # None (and `uses` None): a rule not yet in the data file
    revised: date | None
    uses: frozenset[str] | None

    def to_json(self) -> dict[str, Any]:
        uses = self.uses
        return {
            "rule": self.rule_id,
            "citations": [{"label": c.label, "url": c.url} for c in self.citations],
            "developer": self.developer,
            "fundingSource": self.funding,
            "releaseDate": self.released.isoformat() if self.released else None,
            "revisionDate": self.revised.isoformat() if self.revised else None,
            "uses": None if uses is None else {name: name in uses for name in ELEMENTS},
        }


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    released: date
    revised: date
    uses: list[str]


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    developer: str
    funding: str
    rules: dict[str, _Rule]


@functools.cache
def _data() -> _File:
    text = resources.files("cds_service.governance").joinpath(
        "data", "source_attributes.yaml"
    ).read_text(encoding="utf-8")
    return _File.model_validate(yaml.safe_load(text))


def source_attributes(catalog: CardCatalog, *, strict: bool = False) -> dict[str, SourceAttributes]:
    """Every rule's attributes, in rule order. A rule missing from the data file is published
    with its citations and unknown (null) dates and answers, and a warning; `strict` (the
    tests) refuses it, so a new rule fails the suite until its attributes are written."""
    data = _data()
    missing = [rule for rule in RULE_IDS if rule not in data.rules]
    unknown = sorted(set(data.rules) - set(RULE_IDS))
    if strict and (missing or unknown):
        raise ValueError(f"source_attributes.yaml: no entry for {missing}; no rule {unknown}")
    if missing:
        log.warning("source attributes: no entry for %s in source_attributes.yaml; published "
                    "with unknown dates and data elements", ", ".join(missing))
    found = {}
    for rule in RULE_IDS:
        entry = data.rules.get(rule)
        if entry is not None:
            bad = sorted(set(entry.uses) - set(ELEMENTS))
            if bad or entry.revised < entry.released:
                raise ValueError(f"source_attributes.yaml: {rule}: unknown uses {bad} or "
                                 "revised before released")
        found[rule] = SourceAttributes(
            rule_id=rule,
            citations=_citations(catalog, (k for k, s in CARD_SPECS.items() if s.rule_id == rule)),
            developer=data.developer,
            funding=data.funding,
            released=entry.released if entry else None,
            revised=entry.revised if entry else None,
            uses=frozenset(entry.uses) if entry else None,
        )
    return found


def _citations(catalog: CardCatalog, keys: Iterable[str]) -> tuple[Citation, ...]:
    seen: dict[str, Citation] = {}
    for key in keys:
        card = catalog.card(key)
        links = [(card.source.label, card.source.url)]
        links += [(ref.label, ref.url) for ref in card.references]
        for label, url in links:
            if url:
                seen.setdefault(str(url), Citation(str(label), str(url)))
    return tuple(seen.values())


def discovery_extension(
    attributes: Mapping[str, SourceAttributes], modes: Mapping[str, str]
) -> dict[str, Any]:
    """A discovery entry's `extension`: the source attributes of every rule the service runs
    (`modes`: rule -> on or silent for its hook; rules switched off are left out)."""
    return {
        EXTENSION_KEY: {
            "regulation": "45 CFR 170.315(b)(11) (ONC HTI-1), source attributes",
            "rules": [
                {**attributes[rule].to_json(), "mode": mode}
                for rule, mode in modes.items() if mode != "off"
            ],
        }
    }


def attributes_markdown(attributes: Mapping[str, SourceAttributes]) -> str:
    """The docs/cards.md table (between its `<!-- attributes -->` markers)."""
    first = next(iter(attributes.values()))
    lines = [
        f"Developer: {first.developer}. Funding source: {first.funding}.",
        "",
        "| Rule | Released | Revised | Data elements used (every other one: no) | Citations |",
        "|---|---|---|---|---|",
    ]
    for rule, attrs in attributes.items():
        uses = ", ".join(label for name, label in ELEMENTS.items() if name in (attrs.uses or ()))
        if attrs.uses is None:
            uses = "not yet declared"
        citations = "; ".join(f"[{c.label.replace('|', '/')}]({c.url})" for c in attrs.citations)
        lines.append(f"| `{rule}` | {attrs.released} | {attrs.revised} | {uses or 'none'} | "
                     f"{citations} |")
    return "\n".join(lines)
