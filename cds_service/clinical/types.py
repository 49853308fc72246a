"""Plain, immutable facts the rules read. No FHIR JSON, no UCUM strings, no LOINC codes here.

The clinical layer turns FHIR resources into these values; the rules compare numbers and
membership in named groups. Every value keeps its provenance (which resource, what it said
originally) so a card can show the clinician the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from cds_service.clinical.lab_table import CANONICAL_UNITS
from cds_service.clinical.lab_table import Analyte as Analyte  # defined beside the lab table

Sex = Literal["female", "male"]
Comparator = Literal["<", "<=", ">=", ">"]
Interpretation = Literal["low", "normal", "high"]


@dataclass(frozen=True, slots=True)
class LabValue:
    """The latest valid result for one analyte, converted to its canonical unit."""

    analyte: Analyte
    value: float
    comparator: Comparator | None  # ">60" is value=60, comparator=">": at least 60
    when: date | None  # effective[x] or, failing that, issued
    original: str  # as the lab reported it, e.g. "1.8 mg/dL" or ">60 mL/min/{1.73_m2}"
    source_id: str | None  # "Observation/abc", or None when computed
    code: str | None  # the LOINC (or local) code it was recognised by
    interpretation: Interpretation | None = None  # from the lab: interpretation or reference range
    derived_from: str | None = None  # set for a computed value: what it was computed from
    note: str | None = None  # e.g. "eGFR reported in mL/min, not normalised to 1.73 m2"
    reference_low: float | None = None  # the result's own reference range (canonical units)
    reference_high: float | None = None
    ionized: bool = False  # ionized calcium (not total): a different normal range

    @property
    def unit(self) -> str:
        return CANONICAL_UNITS[self.analyte]

    def at_most(self) -> float | None:
        """The most the true value can be; None when it is open upwards (">60")."""
        return None if self.comparator in (">", ">=") else self.value


@dataclass(frozen=True, slots=True)
class ConditionFact:
    """One active, confirmed (or unconfirmed but not refuted) problem-list entry."""

    groups: frozenset[str]  # condition group ids, e.g. {"ckd", "ckd_g4_g5"}
    display: str
    source_id: str | None
    onset: date | None


@dataclass(frozen=True, slots=True)
class Medication:
    """An order or active prescription, recognised against the drug groups.

    `groups` are drug group ids from the terminology data, e.g. "cyclobenzaprine", "quinine",
    "quinidine", "nuedexta", "baclofen_oral", "baclofen_intrathecal", "magnesium_supplement",
    "magnesium_containing", "potassium_supplement", "potassium_containing", "benzodiazepine",
    "diuretic", "other_muscle_relaxant".
    """

    reference: str | None  # "MedicationRequest/abc": what a delete action names
    resource_type: str  # MedicationRequest (R4/STU3) or MedicationOrder (DSTU2)
    status: str | None
    display: str  # what the clinician sees: coding display or text
    groups: frozenset[str]
    matched_by: str | None  # "rxnorm:197391", "atc:M03BX01", "text:baclofen", or None
    rxnorm: tuple[str, ...] = ()  # RxNorm codes carried by the order
    route: str | None = None  # "oral", "intrathecal", "rectal", "nasal", "injection", ...
    daily_doses_mg: tuple[float, ...] = ()  # per dosage instruction, in sequence order
    reason_groups: frozenset[str] = frozenset()  # condition groups named by reasonCode
    # Any reasonCode or reasonReference at all, recognised or not (e.g. "spasticity"): the order
    # states what it is for, so the problem list does not decide (rules/indication.py step 3).
    has_reason: bool = False
    # Groups the order's own words affirm (reason text, note, dosage text; negation honoured):
    # "muscle_cramp", "malaria", "procedure", "palliative_or_hospice_care", ...
    text_groups: frozenset[str] = frozenset()
    # cramps affirmed in the order's words, or named by the product ("[Cramp-free]")
    mentions_cramp: bool = False
    selected: bool = False  # order-select: named in `selections`
    authored: date | None = None

    @property
    def stated_groups(self) -> frozenset[str]:
        """What the order says it is for: coded reasons and its own words."""
        return self.reason_groups | self.text_groups


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """Everything the rules know about the patient at the time of the hook call."""

    patient_id: str
    as_of: date
    age_years: int | None
    sex: Sex | None
    labs: dict[str, LabValue] = field(default_factory=dict)  # keyed by Analyte
    conditions: tuple[ConditionFact, ...] = ()
    active_medications: tuple[Medication, ...] = ()
    # Problems noticed while reading the data, shown on cards where they matter
    # (e.g. "2 Observations without a date were ignored").
    data_notes: tuple[str, ...] = ()
    # conditions by group, built once: rules ask per order, and scanning every condition per
    # order was quadratic (found by fuzzing: 4,000 orders x 4,000 conditions took 3 s)
    _by_group: dict[str, tuple[ConditionFact, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_group: dict[str, list[ConditionFact]] = {}
        for condition in self.conditions:
            for group in condition.groups:
                by_group.setdefault(group, []).append(condition)
        object.__setattr__(self, "_by_group", {g: tuple(cs) for g, cs in by_group.items()})

    def lab(self, analyte: Analyte) -> LabValue | None:
        return self.labs.get(analyte)

    @property
    def egfr(self) -> LabValue | None:
        """Measured eGFR, or CKD-EPI 2021 computed from creatinine (then `derived_from` is set)."""
        return self.labs.get("egfr")

    def has_condition(self, group: str) -> bool:
        return group in self._by_group

    def conditions_in(self, group: str) -> tuple[ConditionFact, ...]:
        return self._by_group.get(group, ())

    def takes(self, group: str) -> tuple[Medication, ...]:
        return tuple(m for m in self.active_medications if group in m.groups)
