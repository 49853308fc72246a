"""What the rules read (RuleInput) and what they say (Finding).

A rule is a pure function `RuleInput -> list[Finding]`. A Finding names the card to show
(`card_key`, text lives in the top-level `cards/` directory), how urgent it is, the order it is
about, the evidence actually used, the values the card text needs, and the suggestions to offer
(as intents: the cards layer turns them into FHIR resources with codes from `cards/`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Literal

from cds_service.cdshooks.hooks import HookName
from cds_service.clinical.types import Medication, PatientFacts

Hook = HookName  # the one hook list: cdshooks/hooks.py
Indicator = Literal["info", "warning", "critical"]
INDICATOR_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}

# remove-order: delete the draft order (order hooks only).
# replace-with-baclofen: delete the draft order AND create the baclofen order (one suggestion).
# add-baclofen: create a baclofen MedicationRequest with a titration schedule.
# order-labs: create one ServiceRequest per missing analyte.
SuggestionKind = Literal["remove-order", "replace-with-baclofen", "add-baclofen", "order-labs"]
DELETING_KINDS: frozenset[str] = frozenset({"remove-order", "replace-with-baclofen"})

# Baclofen schedules are defined (doses, codes, provenance) in cards/_orderables.yaml.
BaclofenSchedule = Literal["easl-cirrhosis", "start-low"]
# Analytes a lab-order suggestion may name; their LOINC codes live in cards/_orderables.yaml.
OrderableLab = Literal["magnesium", "potassium", "calcium", "creatine_kinase", "tsh"]

# How a template value is typed, so the catalog can render worst cases at load.
# A trailing "?" means the value may be None; "texts" is a tuple of strings; "labs" a tuple of
# OrderableLab ids.
ValueKind = Literal["text", "text?", "number", "number?", "date?", "flag", "texts", "labs"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Cut-offs the rules compare against (canonical units). The lab's own flag or reference
    range always comes first (rules/levels.py); these apply only when a result has neither."""

    hypomagnesemia_mmol_per_l: float = 0.70  # F7: configurable; 0.70 (1.7 mg/dL) most common
    hypermagnesemia_mmol_per_l: float = 1.07  # 2.6 mg/dL, the common definition (§11.1)
    # IV magnesium for pre-eclampsia/eclampsia or torsades: above this the level is toxic, not
    # therapeutic (commonly quoted 4-7 mEq/L, i.e. up to 8.4 mg/dL = 3.5 mmol/L; design choice)
    magnesium_therapeutic_max_mmol_per_l: float = 3.5
    hypokalemia_mmol_per_l: float = 3.5  # StatPearls NBK482465
    hyperkalemia_mmol_per_l: float = 5.0  # KDIGO Controversies 2020 / ULN (§11.1), design choice
    hypocalcemia_mmol_per_l: float = 2.12  # total calcium 8.5 mg/dL, a common lower limit
    hypocalcemia_ionized_mmol_per_l: float = 1.12  # a common lower limit (design choice)
    ck_upper_u_per_l: float = 200.0  # no lab range: a typical adult upper limit (design choice)
    tsh_lower_miu_per_l: float = 0.4  # typical adult reference interval (design choice)
    tsh_upper_miu_per_l: float = 4.5
    severe_hypokalemia_mmol_per_l: float = 3.0  # StatPearls: moderate-severe below 3.0
    # Severe below 1.2 mg/dL, i.e. 0.494 mmol/L: the mg/dL cut-off, converted, so that a US
    # lab's 1.2 mg/dL (0.4937) is not "below" it while 0.49 mmol/L is (0.5 mmol/L would call
    # 1.2 mg/dL severe).
    severe_hypomagnesemia_mmol_per_l: float = 0.494
    ck_myopathy_multiple: float = 10.0  # AHA/ACC 2018, EAS 2015: CK > 10x ULN
    egfr_severe: float = 30.0  # below: KDIGO G4-G5
    egfr_moderate: float = 60.0  # below: KDIGO G3a-G3b; also the Beers baclofen cut-off
    older_adult_age: int = 65  # AGS Beers 2023


@dataclass(frozen=True, slots=True)
class AlertBudget:
    """How many cards one call may show (rules/budget.py)."""

    patient_view_max: int = 3
    per_order: int = 1
    patient_level_in_order_hooks: int = 1


@dataclass(frozen=True, slots=True)
class RuleInput:
    """One hook call as the rules see it.

    `orders`: order-select -> all draft orders (`selected` marks those in `selections`);
    order-sign -> all draft orders; patient-view -> the active medications.
    """

    hook: Hook
    facts: PatientFacts
    orders: tuple[Medication, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    budget: AlertBudget = field(default_factory=AlertBudget)

    @property
    def is_order_hook(self) -> bool:
        return self.hook != "patient-view"

    @property
    def targets(self) -> tuple[Medication, ...]:
        """The orders rules fire on: only the selected drafts in order-select, else all."""
        if self.hook == "order-select":
            return tuple(o for o in self.orders if o.selected)
        return self.orders


@dataclass(frozen=True, slots=True)
class Evidence:
    """One datum a finding relied on, as the clinician should see it on the card."""

    label: str  # "eGFR", "Serum magnesium", "Order reason"
    value: str  # "27 mL/min/1.73m2 (reported as 27 mL/min/{1.73_m2})"
    when: date | None = None
    source_id: str | None = None  # "Observation/abc"


@dataclass(frozen=True, slots=True)
class SuggestionSpec:
    """An offer the card makes; the cards layer builds the FHIR actions from it."""

    kind: SuggestionKind
    order_reference: str | None = None  # remove-order / replace-with-baclofen
    schedule: BaclofenSchedule | None = None  # add-baclofen / replace-with-baclofen
    labs: tuple[OrderableLab, ...] = ()  # order-labs
    recommended: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule's conclusion about one order (or about the patient when `order` is None)."""

    rule_id: str
    card_key: str
    indicator: Indicator
    order: Medication | None
    evidence: tuple[Evidence, ...]
    values: Mapping[str, object]
    suggestions: tuple[SuggestionSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class CardSpec:
    """What a rule promises a card: its key, urgency, template values and suggestion kinds.

    The catalog checks at start-up that `cards/` has text for every spec, that the templates
    use only these values and that every suggestion kind has a label.
    """

    rule_id: str
    key: str
    indicator: Indicator
    values: Mapping[str, ValueKind]
    suggestions: frozenset[SuggestionKind] = frozenset()
    labs_only: bool = False  # the card exists to offer labs: nothing to show without them

    def finding(
        self,
        *,
        order: Medication | None,
        evidence: tuple[Evidence, ...] | list[Evidence],
        values: Mapping[str, object],
        suggestions: tuple[SuggestionSpec, ...] | list[SuggestionSpec] = (),
    ) -> Finding:
        """Build a Finding; a value set that does not match the spec is a programming error."""
        if set(values) != set(self.values):
            missing = sorted(set(self.values) - set(values))
            extra = sorted(set(values) - set(self.values))
            raise ValueError(f"{self.key}: values missing {missing}, unexpected {extra}")
        for suggestion in suggestions:
            if suggestion.kind not in self.suggestions:
                raise ValueError(f"{self.key}: suggestion kind {suggestion.kind} not declared")
        return Finding(
            rule_id=self.rule_id,
            card_key=self.key,
            indicator=self.indicator,
            order=order,
            evidence=tuple(evidence),
            values=MappingProxyType(dict(values)),
            suggestions=tuple(suggestions),
        )
