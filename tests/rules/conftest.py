"""Small builders for PatientFacts, LabValue, ConditionFact, Medication and RuleInput.

Plain functions (imported by the tests) rather than fixtures: a test reads as the clinical
situation it builds, e.g. `inp("order-select", facts(age=70), med("quinine", reasons=...))`.
"""

from __future__ import annotations

from datetime import date

from cds_service.clinical.types import (
    Analyte,
    Comparator,
    ConditionFact,
    Interpretation,
    LabValue,
    Medication,
    PatientFacts,
)
from cds_service.rules import evaluate
from cds_service.rules.types import Finding, Hook, RuleInput, Thresholds

TODAY = date(2026, 11, 1)
LAB_DAY = date(2026, 10, 1)
UNITS = {"potassium": "mmol/L", "magnesium": "mmol/L", "egfr": "mL/min/{1.73_m2}"}


def lab(
    analyte: Analyte,
    value: float,
    *,
    comparator: Comparator | None = None,
    interpretation: Interpretation | None = None,
    derived_from: str | None = None,
    when: date | None = LAB_DAY,
) -> LabValue:
    unit = UNITS.get(analyte, "")
    return LabValue(
        analyte=analyte,
        value=value,
        comparator=comparator,
        when=when,
        original=f"{comparator or ''}{value} {unit}".strip(),
        source_id=None if derived_from else f"Observation/{analyte}-1",
        code=None,
        interpretation=interpretation,
        derived_from=derived_from,
    )


def egfr(value: float, **kwargs: object) -> LabValue:
    return lab("egfr", value, **kwargs)  # type: ignore[arg-type]


def cond(*groups: str, display: str | None = None, onset: date | None = None) -> ConditionFact:
    """A problem-list entry; a pregnancy began recently (older entries are not current)."""
    name = display or " / ".join(groups)
    onset = onset or (date(2026, 8, 1) if "pregnancy" in groups else date(2025, 1, 1))
    return ConditionFact(frozenset(groups), name, f"Condition/{groups[0]}", onset)


def med(
    *groups: str,
    ref: str | None = "MedicationRequest/draft-1",
    display: str | None = None,
    reasons: tuple[str, ...] = (),
    mentions_cramp: bool = False,
    selected: bool = True,
    doses: tuple[float, ...] = (),
    route: str | None = None,
    has_reason: bool | None = None,
    text: tuple[str, ...] = (),
) -> Medication:
    """A draft order; `has_reason` defaults to whether `reasons` names any condition group.
    `text`: groups the order's own words affirm (reason text, note, dosage text)."""
    return Medication(
        reference=ref,
        resource_type="MedicationRequest",
        status="draft",
        display=display or f"{groups[0]} product",
        groups=frozenset(groups),
        matched_by=f"test:{groups[0]}",
        route=route,
        daily_doses_mg=doses,
        reason_groups=frozenset(reasons),
        has_reason=bool(reasons) if has_reason is None else has_reason,
        text_groups=frozenset(text),
        mentions_cramp=mentions_cramp or "muscle_cramp" in text,
        selected=selected,
    )


def facts(
    *,
    age: int | None = 50,
    labs: tuple[LabValue, ...] = (),
    conditions: tuple[ConditionFact, ...] = (),
    active: tuple[Medication, ...] = (),
    notes: tuple[str, ...] = (),
) -> PatientFacts:
    return PatientFacts(
        patient_id="pat-1",
        as_of=TODAY,
        age_years=age,
        sex="female",
        labs={v.analyte: v for v in labs},
        conditions=conditions,
        active_medications=active,
        data_notes=notes,
    )


def all_labs(**overrides: float) -> tuple[LabValue, ...]:
    """A complete, normal work-up (no cramp-workup card), overridable per analyte."""
    values: dict[str, float] = {
        "magnesium": 0.85,
        "potassium": 4.2,
        "calcium": 2.35,
        "creatine_kinase": 90,
        "tsh": 1.8,
        "egfr": 85,
    }
    values.update(overrides)
    return tuple(lab(a, v) for a, v in values.items())  # type: ignore[arg-type]


def inp(
    hook: Hook, patient: PatientFacts, *orders: Medication, thresholds: Thresholds | None = None
) -> RuleInput:
    """RuleInput; patient-view uses the patient's active medications when no orders given."""
    if hook == "patient-view" and not orders:
        orders = patient.active_medications
    return RuleInput(hook, patient, tuple(orders), thresholds or Thresholds())


def run(rule_input: RuleInput, rule_id: str | None = None) -> list[Finding]:
    findings = evaluate(rule_input)
    return [f for f in findings if rule_id is None or f.rule_id == rule_id]


def keys(findings: list[Finding]) -> list[str]:
    return [f.card_key for f in findings]
