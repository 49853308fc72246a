"""Where a recommendation applies at all.

AGS Beers 2023 is "intended for use in adults 65 and older in all ambulatory, acute, and
institutionalized settings of care, except hospice and end-of-life care settings" (§11.5):
with hospice, palliative or end-of-life care documented -- on the problem list or in the
order's own words -- no Beers card fires.

Pregnancy changes what is advised (no one-click baclofen, a baclofen warning, no magnesium
deficiency card). Problem lists keep pregnancy entries long after the birth (Synthea and real
EHRs alike), so an entry counts only when it is plausible now: the patient is 10 to 55 (or of
unknown age) and the entry began within the last 300 days (or gives no onset). A design choice.
"""

from __future__ import annotations

from datetime import timedelta

from cds_service.clinical.types import ConditionFact, Medication, PatientFacts

END_OF_LIFE = "palliative_or_hospice_care"


def end_of_life_care(facts: PatientFacts, order: Medication | None = None) -> bool:
    return facts.has_condition(END_OF_LIFE) or (
        order is not None and END_OF_LIFE in order.stated_groups
    )


def beers_applies(facts: PatientFacts, order: Medication | None = None) -> bool:
    return not end_of_life_care(facts, order)


PREGNANCY_AGES = range(10, 56)
PREGNANCY_MAX_DAYS = 300


def current_pregnancy(facts: PatientFacts) -> tuple[ConditionFact, ...]:
    """The pregnancy entries that are plausible today (see the module docstring)."""
    if facts.age_years is not None and facts.age_years not in PREGNANCY_AGES:
        return ()
    oldest = facts.as_of - timedelta(days=PREGNANCY_MAX_DAYS)
    return tuple(
        c for c in facts.conditions_in("pregnancy") if c.onset is None or c.onset >= oldest
    )
