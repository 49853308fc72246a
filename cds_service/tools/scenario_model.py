"""The scenario file format, validated with pydantic (see fixtures/scenarios/README.md).

A scenario file is a YAML list of scenarios. Each scenario names its patient data (a ready
request, a patient Bundle, inline resources or shorthand, or a mix of Bundle and inline), the
hook and draft orders, the evaluation date, and what the service must answer.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cds_service.cdshooks.hooks import HookName
from cds_service.rules import CARD_SPECS, RULE_IDS
from cds_service.rules.types import Indicator
from cds_service.tools.request_builder import PrefetchMode

_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Raw(_Model):
    """A full FHIR resource given as-is (anything with a `resourceType`)."""

    resource: dict[str, Any]


def _wrap_raw(items: object) -> object:
    """Full resources (they have `resourceType`) become Raw; the rest is shorthand."""
    if not isinstance(items, list):
        return items
    return [
        {"resource": item} if isinstance(item, dict) and "resourceType" in item else item
        for item in items
    ]


class PatientShort(_Model):
    """`{birth_date: 1950-03-01, gender: female}`, or `age: 70` (born on the 1st of the
    evaluation month, `age` years earlier, so the age is exact)."""

    id: str = "pat-1"
    birth_date: dt.date | None = None
    age: int | None = Field(None, ge=0, le=120)
    gender: Literal["male", "female", "other", "unknown"] | None = None

    @model_validator(mode="after")
    def _one_age(self) -> PatientShort:
        if self.birth_date is not None and self.age is not None:
            raise ValueError("give birth_date or age, not both")
        return self


class LabShort(_Model):
    """`{code: "19123-9", value: 1.5, unit: "mg/dL", date: 2026-10-01}` -> an Observation.

    `ucum: false` drops the UCUM system and code (only `unit` text, as in Bundle-ghp);
    a string gives a UCUM code differing from the unit text. `date: null` with
    `undated: true` leaves effective[x] out. `ref_low` / `ref_high` give the result's
    referenceRange, in the lab's own unit (as a US lab prints "1.6-2.6 mg/dL").
    """

    code: str
    value: float
    unit: str
    system: str = "http://loinc.org"
    date: dt.date | None = None  # default: the scenario's as_of
    days_ago: int | None = Field(None, ge=0)
    undated: bool = False
    ucum: bool | str = True
    comparator: Literal["<", "<=", ">=", ">"] | None = None
    interpretation: Literal["L", "LL", "LU", "N", "H", "HH", "HU", "A", "AA"] | None = None
    ref_low: float | None = None
    ref_high: float | None = None
    status: str = "final"
    id: str | None = None

    @model_validator(mode="after")
    def _range(self) -> LabShort:
        if self.ref_low is not None and self.ref_high is not None and self.ref_low > self.ref_high:
            raise ValueError("ref_low is above ref_high")
        return self


class ConditionShort(_Model):
    """`{code: R25.2}` (ICD-10-CM unless `system` says otherwise) -> an active Condition."""

    code: str
    system: str = "icd10"
    display: str = ""
    clinical_status: str = "active"
    verification: str = "confirmed"
    onset: dt.date | None = None
    id: str | None = None


class DoseStep(_Model):
    dose_mg: float = Field(gt=0)
    per_day: float = Field(gt=0)
    days: int | None = Field(None, gt=0)


class OrderShort(_Model):
    """A MedicationRequest in shorthand, or `take:` to draft an order that is in the Bundle.

    `reason` is `system|code` (system may be an alias: icd10, snomed) or a bare ICD-10-CM code.
    `note` is MedicationRequest.note text (where prescribers write "for alcohol withdrawal");
    `route` is the dosage route as text ("intravenous", "rectal"), on every dosage step.
    `selected: false` leaves a draft out of order-select's `selections`.
    """

    take: str | None = None  # "MedicationRequest/<id>" from the patient data: becomes a draft
    id: str | None = None
    rxnorm: str | None = None
    display: str | None = None
    text: str | None = None
    reason: str | None = None
    reason_text: str | None = None
    dose_mg: float | None = Field(None, gt=0)
    per_day: float | None = Field(None, gt=0)
    steps: list[DoseStep] = Field(default_factory=list)
    dosage_text: str | None = None
    route: str | None = None
    note: str | None = None
    status: str | None = None  # default: draft (orders) / active (medications)
    selected: bool = True

    @model_validator(mode="after")
    def _what(self) -> OrderShort:
        if self.take is None and self.rxnorm is None and self.text is None:
            raise ValueError("an order needs rxnorm, text or take")
        if self.take is not None and (
            self.rxnorm or self.text or self.dose_mg or self.steps or self.route or self.note
        ):
            raise ValueError("take: copies an order from the patient data; give nothing else")
        if self.steps and self.dose_mg is not None:
            raise ValueError("give dose_mg/per_day or steps, not both")
        return self


class CardExpect(_Model):
    """One card the answer must hold: by rule id and/or card key, optionally its indicator,
    text fragments and whether it offers suggestions."""

    rule: str | None = None
    card: str | None = None
    indicator: Indicator | None = None
    summary_contains: str | None = None
    detail_contains: str | None = None
    suggestions: bool | None = None
    # true: the card offers a one-click drug order (a suggestion creating a MedicationRequest);
    # false: it offers none (text may still mention the drug).
    offers_drug: bool | None = None
    offers_removal: bool | None = None  # a suggestion deleting the draft order

    @model_validator(mode="after")
    def _known(self) -> CardExpect:
        if self.rule is None and self.card is None:
            raise ValueError("a card expectation needs `rule` or `card`")
        if self.rule is not None and self.rule not in RULE_IDS:
            raise ValueError(f"unknown rule id {self.rule!r}")
        if self.card is not None:
            spec = CARD_SPECS.get(self.card)
            if spec is None:
                raise ValueError(f"unknown card key {self.card!r}")
            if self.rule is not None and spec.rule_id != self.rule:
                raise ValueError(f"card {self.card} belongs to rule {spec.rule_id}")
            if self.indicator is not None and spec.indicator != self.indicator:
                raise ValueError(f"card {self.card} is always {spec.indicator}")
        return self

    def label(self) -> str:
        parts = [self.card or self.rule or "?"]
        if self.indicator:
            parts.append(f"({self.indicator})")
        return " ".join(parts)


class Expect(_Model):
    status: int = 200
    cards: list[CardExpect] = Field(default_factory=list)
    absent: list[str] = Field(default_factory=list)  # rule ids or card keys
    exact: bool = False  # no card beyond those listed
    no_drug_offer: bool = False  # no card in the answer offers a one-click drug order
    max_cards: int | None = Field(None, ge=0)  # the alert budget: at most this many cards

    @field_validator("absent")
    @classmethod
    def _known(cls, values: list[str]) -> list[str]:
        for value in values:
            if value not in RULE_IDS and value not in CARD_SPECS:
                raise ValueError(f"absent: {value!r} is neither a rule id nor a card key")
        return values


class Scenario(_Model):
    name: str
    description: str
    # What a careful clinician expects, in plain words (required in clinical-review/):
    # the sentence docs/clinical-validation.md shows next to the service's answer.
    clinician: str | None = None
    source: str  # provenance of the patient data
    hook: HookName
    as_of: dt.date
    chart_as_of: bool = False  # drop Observations dated after as_of (the chart on that day)
    request: str | None = None
    bundle: str | None = None
    patient_id: str | None = None
    patient: PatientShort | Raw | None = None
    labs: list[LabShort] = Field(default_factory=list)
    observations: list[Raw] = Field(default_factory=list)
    conditions: list[ConditionShort | Raw | str] = Field(default_factory=list)
    medications: list[OrderShort | Raw] = Field(default_factory=list)
    orders: list[OrderShort | Raw] = Field(default_factory=list)
    selections: list[str] | None = None
    prefetch: PrefetchMode = "full"
    fhir_server: str | Literal[False] | None = None  # False: send no fhirServer
    patch: dict[str, Any] = Field(default_factory=dict)
    expect: Expect
    xfail: str | None = None
    tags: list[str] = Field(default_factory=list)
    file: Path | None = Field(None, exclude=True)  # set by the loader

    @field_validator("observations", "medications", "orders", "conditions", mode="before")
    @classmethod
    def _raw_items(cls, value: object) -> object:
        return _wrap_raw(value)

    @field_validator("patient", mode="before")
    @classmethod
    def _raw_patient(cls, value: object) -> object:
        return {"resource": value} if isinstance(value, dict) and "resourceType" in value else value

    @field_validator("clinician")
    @classmethod
    def _said(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("clinician: say what a careful clinician expects, or leave it out")
        return value

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("name: lower-case letters, digits, '.', '+' and '-' only")
        return value

    @model_validator(mode="after")
    def _data(self) -> Scenario:
        inline = bool(
            self.patient or self.labs or self.observations or self.conditions or self.medications
        )
        if self.request is not None:
            if self.bundle or inline or self.orders or self.prefetch != "full":
                raise ValueError("`request:` is used as-is: no bundle, inline data or orders")
        elif self.bundle is None and not inline and self.prefetch == "full":
            raise ValueError("no patient data: give request, bundle or inline data")
        if self.hook == "patient-view" and self.orders:
            raise ValueError("patient-view has no draft orders (use medications:)")
        return self
