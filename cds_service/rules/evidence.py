"""Turn facts into the evidence lines a card shows (values with units, dates, resource ids)."""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.clinical.lab_table import LAB_LABELS
from cds_service.clinical.types import ConditionFact, LabValue, Medication
from cds_service.rules.types import Evidence

# Problem-list entries shown per kind of condition. Real problem lists repeat a condition
# (Synthea records CKD at every encounter), a card is read in seconds, and listing every entry
# on every card made the response grow as orders x conditions.
MAX_CONDITIONS_SHOWN = 3

def fmt(value: float) -> str:
    """Up to two decimals, no trailing zeros: 0.7 -> "0.7", 27.0 -> "27", 3.456 -> "3.46"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def lab_text(lab: LabValue) -> str:
    """ "27 mL/min/1.73m2", ">60 mL/min/1.73m2 (reported as >60 mL/min/{1.73_m2})", or how
    a computed eGFR was computed."""
    shown = f"{lab.comparator or ''}{fmt(lab.value)} {lab.unit}"
    if lab.derived_from:
        shown += f", computed with CKD-EPI 2021 from creatinine ({lab.derived_from})"
    elif lab.original and lab.original.split()[0] != shown.split()[0]:
        shown += f" (reported as {lab.original})"  # converted: show what the lab said
    if lab.interpretation:
        shown += f", flagged {lab.interpretation} by the lab"
    if lab.note:
        shown += f"; {lab.note}"
    return shown


def reported(lab: LabValue) -> str:
    """The value in the unit the lab reported, with the service's unit in brackets when they
    differ: "1.5 mg/dL (0.62 mmol/L)", "4.1 mmol/L", ">60 mL/min/1.73m2"."""
    canonical = f"{lab.comparator or ''}{fmt(lab.value)} {lab.unit}"
    if lab.derived_from or not lab.original:
        return canonical
    if lab.original.split()[0] == canonical.split()[0]:
        return lab.original if " " in lab.original else canonical
    return f"{lab.original} ({canonical})"


def lab_evidence(lab: LabValue) -> Evidence:
    label = LAB_LABELS.get(lab.analyte, lab.analyte)
    return Evidence(label, lab_text(lab), lab.when, lab.source_id)


def condition_evidence(condition: ConditionFact, label: str = "Problem list") -> Evidence:
    return Evidence(label, condition.display, condition.onset, condition.source_id)


def conditions_evidence(
    conditions: Sequence[ConditionFact], label: str = "Problem list"
) -> list[Evidence]:
    """The first MAX_CONDITIONS_SHOWN entries, then one line counting the rest."""
    shown = [condition_evidence(c, label) for c in conditions[:MAX_CONDITIONS_SHOWN]]
    if len(conditions) > MAX_CONDITIONS_SHOWN:
        more = len(conditions) - MAX_CONDITIONS_SHOWN
        entries = "entry" if more == 1 else "entries"
        shown.append(Evidence(label, f"and {more} more {entries} like these"))
    return shown


def order_evidence(order: Medication, label: str | None = None) -> Evidence:
    """The order as the card shows it; an active prescription is not called an "Order"."""
    label = label or ("Active medication" if order.status == "active" else "Order")
    dose = ""
    if order.daily_doses_mg:
        dose = " (" + " -> ".join(f"{fmt(d)} mg/day" for d in order.daily_doses_mg) + ")"
    return Evidence(label, order.display + dose, order.authored, order.reference)


def age_evidence(age: int) -> Evidence:
    return Evidence("Age", f"{age} years")
