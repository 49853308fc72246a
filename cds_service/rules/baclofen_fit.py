"""Does baclofen suit this patient, and at which starting schedule? (guard-rails, F3/F4)

Baclofen is off-label for cramps in every setting; the 10 -> 30 mg/day weekly titration is the
EASL 2018 regimen for cramps in cirrhosis. A one-click order is offered only when:

- age >= 65: eGFR is known and >= 60 and no dialysis (AGS Beers 2023, kidney table: avoid
  baclofen if eGFR < 60). Then "start low" (5 mg once daily, titrate slowly): a design choice,
  no source found (F4).
- age < 65: no eGFR < 30 / CKD G4-G5 / dialysis (Vlavonou 2014: reduce ~2/3 below CrCl 30;
  dialysis ~5 mg/day or avoid). eGFR 30-59 -> "start low" (Vlavonou: reduce 1/3 to 1/2).
- no hepatic encephalopathy (baclofen is a CNS depressant; EASL: caution).
- the age is known and 18 or over (no adult baclofen order for a child: paediatric dosing is
  out of scope), and the patient is not already on baclofen.
"""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.rules.kidney import Kidney, assess_kidney
from cds_service.rules.types import BaclofenSchedule, RuleInput

BACLOFEN_GROUPS = frozenset({"baclofen_oral", "baclofen_intrathecal"})
ADULT_AGE = 18  # under this: no baclofen order or option card (paediatric dosing out of scope)


@dataclass(frozen=True, slots=True)
class BaclofenFit:
    schedule: BaclofenSchedule | None  # None: no one-click order
    already_on: bool
    kidney: Kidney
    older: bool
    child: bool  # age known and under ADULT_AGE
    age_unknown: bool
    older_kidney: bool  # Beers: avoid
    older_no_egfr: bool  # Beers gate cannot be applied
    severe_kidney: bool
    hepatic_encephalopathy: bool
    start_low_older: bool
    start_low_kidney: bool
    cirrhosis: bool

    @property
    def offer(self) -> bool:
        return self.schedule is not None and not self.already_on


def assess_baclofen(inp: RuleInput) -> BaclofenFit:
    facts, limits = inp.facts, inp.thresholds
    kidney = assess_kidney(facts, limits)
    already_on = any(m.groups & BACLOFEN_GROUPS for m in (*facts.active_medications, *inp.orders))
    age = facts.age_years
    older = age is not None and age >= limits.older_adult_age
    child = age is not None and age < ADULT_AGE
    older_kidney = older and kidney.impaired
    older_no_egfr = older and not older_kidney and kidney.egfr is None
    severe_kidney = not older and kidney.band == "severe"
    he = facts.has_condition("hepatic_encephalopathy")
    blocked = age is None or child or older_kidney or older_no_egfr or severe_kidney or he
    start_low_older = older and not blocked
    start_low_kidney = not older and not blocked and kidney.band == "moderate"
    schedule: BaclofenSchedule | None
    if blocked:
        schedule = None
    elif start_low_older or start_low_kidney:
        schedule = "start-low"
    else:
        schedule = "easl-cirrhosis"
    return BaclofenFit(
        schedule=schedule,
        already_on=already_on,
        kidney=kidney,
        older=older,
        child=child,
        age_unknown=age is None,
        older_kidney=older_kidney,
        older_no_egfr=older_no_egfr,
        severe_kidney=severe_kidney,
        hepatic_encephalopathy=he,
        start_low_older=start_low_older,
        start_low_kidney=start_low_kidney,
        cirrhosis=facts.has_condition("cirrhosis"),
    )
