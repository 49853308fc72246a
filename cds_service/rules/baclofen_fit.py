"""May a card offer a one-click baclofen order? (F3/F4, §11.3)

Baclofen is off-label for cramps in every setting; the 10 -> 20 -> 30 mg/day weekly titration
is EASL 2018's regimen for cramps in cirrhosis, and AAN 2010 does not list baclofen for
idiopathic cramps. So a one-click order is offered only when all of these hold:

- cirrhosis is documented (problem list);
- the age is known and 18 or over (paediatric dosing is out of scope);
- not pregnant (no adequate human data; no cramp trial in pregnancy used baclofen);
- no eGFR < 30, CKD G4-5, dialysis or end-stage kidney disease, at any age (baclofen is
  excreted unchanged; encephalopathy case series; Vlavonou 2014; ~5 mg/day on dialysis);
- age >= 65: eGFR known and >= 60 (AGS Beers 2023 kidney table: avoid if eGFR < 60);
- no hepatic encephalopathy (a CNS depressant can precipitate or mask it);
- no abnormal work-up result (secondary.py: treat the cause first);
- not already on baclofen.
Schedule: EASL's 10 mg/day start, or "start low" (5 mg/day, a design choice, no source found:
F4) for an adult of 65 or over, or under 65 with eGFR 30-59 (Vlavonou: reduce 1/3 to 1/2).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cds_service.rules.kidney import Kidney, assess_kidney
from cds_service.rules.scope import current_pregnancy
from cds_service.rules.secondary import Workup, assess_workup
from cds_service.rules.types import BaclofenSchedule, RuleInput

BACLOFEN_GROUPS = frozenset({"baclofen_oral", "baclofen_intrathecal"})
ADULT_AGE = 18


@dataclass(frozen=True, slots=True)
class BaclofenFit:
    schedule: BaclofenSchedule | None  # None: no one-click order
    already_on: bool
    kidney: Kidney
    workup: Workup
    cirrhosis: bool
    older: bool
    child: bool
    age_unknown: bool
    pregnant: bool
    severe_kidney: bool  # eGFR < 30, CKD G4-5, dialysis or ESKD: any age
    older_kidney: bool  # age >= 65 and eGFR 30-59 (Beers: avoid)
    older_no_egfr: bool  # age >= 65 and no eGFR: the Beers gate cannot be applied
    hepatic_encephalopathy: bool

    @property
    def offer(self) -> bool:
        return self.schedule is not None and not self.already_on


def assess_baclofen(inp: RuleInput) -> BaclofenFit:
    facts, limits = inp.facts, inp.thresholds
    kidney = assess_kidney(facts, limits)
    workup = assess_workup(facts, limits)
    already_on = any(m.groups & BACLOFEN_GROUPS for m in (*facts.active_medications, *inp.orders))
    age = facts.age_years
    older = age is not None and age >= limits.older_adult_age
    severe = kidney.band == "severe"
    fit = BaclofenFit(
        schedule=None,
        already_on=already_on,
        kidney=kidney,
        workup=workup,
        cirrhosis=facts.has_condition("cirrhosis"),
        older=older,
        child=age is not None and age < ADULT_AGE,
        age_unknown=age is None,
        pregnant=bool(current_pregnancy(facts)),
        severe_kidney=severe,
        older_kidney=older and kidney.band == "moderate" and kidney.egfr is not None,
        older_no_egfr=older and not severe and kidney.egfr is None,
        hepatic_encephalopathy=facts.has_condition("hepatic_encephalopathy"),
    )
    blocked = (
        not fit.cirrhosis
        or fit.age_unknown
        or fit.child
        or fit.pregnant
        or fit.severe_kidney
        or fit.older_kidney
        or fit.older_no_egfr
        or fit.hepatic_encephalopathy
        or workup.secondary
    )
    if blocked:
        return fit
    start_low = older or kidney.band == "moderate"
    schedule: BaclofenSchedule = "start-low" if start_low else "easl-cirrhosis"
    return dataclasses.replace(fit, schedule=schedule)
