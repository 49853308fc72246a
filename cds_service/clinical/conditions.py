"""Condition resources -> ConditionFact for the problems that are current.

Current means clinicalStatus active, recurrence or relapse (a CodeableConcept in R4, a plain
string in STU3/DSTU2, where DSTU2 says "relapsed"), no abatement, and a verificationStatus
that is not refuted, entered-in-error or differential. A differential diagnosis is one
possibility under consideration, not a problem: Condition-f204 (inactive, differential acute
renal insufficiency) must not count as renal disease. A Condition without a clinicalStatus is
not assumed active: a missing status must not silently excuse or trigger a drug warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cds_service.clinical.fhirjson import (
    codings,
    first_code,
    parse_date,
    read_concept,
    reference_key,
)
from cds_service.clinical.terminology import Terminology
from cds_service.clinical.types import ConditionFact

ACTIVE = frozenset({"active", "recurrence", "relapse", "relapsed"})
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error", "differential"})
_ABATEMENT = ("abatementDateTime", "abatementAge", "abatementPeriod", "abatementRange",
              "abatementString", "abatementDate")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConditionReading:
    conditions: tuple[ConditionFact, ...]
    notes: tuple[str, ...]


def status_code(value: object) -> str | None:
    """The code of a status given as a string (STU3/DSTU2) or a CodeableConcept (R4)."""
    if isinstance(value, str):
        return value.strip().lower() or None
    code = first_code(value)
    return code.lower() if code else None


def is_current(condition: dict[str, Any]) -> bool:
    """Active (or recurring), not abated, not refuted, erroneous or merely differential."""
    if status_code(condition.get("clinicalStatus")) not in ACTIVE:
        return False
    if status_code(condition.get("verificationStatus")) in EXCLUDED_VERIFICATION:
        return False
    if condition.get("abatementBoolean") is True:
        return False
    return not any(condition.get(key) not in (None, "", {}) for key in _ABATEMENT)


def read_condition(condition: dict[str, Any], terminology: Terminology) -> ConditionFact | None:
    """A ConditionFact for a current Condition, else None."""
    if not is_current(condition):
        return None
    code = condition.get("code")
    period = condition.get("onsetPeriod")
    onset = parse_date(condition.get("onsetDateTime")) or parse_date(
        period.get("start") if isinstance(period, dict) else None
    )
    found, text = read_concept(code)
    return ConditionFact(
        groups=terminology.condition_groups(found),
        display=text or "Unnamed condition",
        source_id=reference_key(condition),
        onset=onset,
    )


def read_conditions(conditions: Iterable[object], *, terminology: Terminology) -> ConditionReading:
    """The current conditions among `conditions` (other types and junk are skipped)."""
    facts: list[ConditionFact] = []
    unknown_status = 0
    for item in conditions:
        if not isinstance(item, dict) or item.get("resourceType") != "Condition":
            continue
        fact = read_condition(item, terminology)
        if fact is not None:
            facts.append(fact)
        elif status_code(item.get("clinicalStatus")) is None and terminology.condition_groups(
            codings(item.get("code"))
        ):
            unknown_status += 1
    notes: tuple[str, ...] = ()
    if unknown_status:
        notes = (
            f"{unknown_status} relevant condition(s) without a clinical status were not used.",
        )
    return ConditionReading(tuple(facts), notes)
