"""Where a recommendation applies at all.

AGS Beers 2023 is "intended for use in adults 65 and older in all ambulatory, acute, and
institutionalized settings of care, except hospice and end-of-life care settings" (§11.5):
with hospice, palliative or end-of-life care documented -- on the problem list or in the
order's own words -- no Beers card fires.
"""

from __future__ import annotations

from cds_service.clinical.types import Medication, PatientFacts

END_OF_LIFE = "palliative_or_hospice_care"


def end_of_life_care(facts: PatientFacts, order: Medication | None = None) -> bool:
    return facts.has_condition(END_OF_LIFE) or (
        order is not None and END_OF_LIFE in order.stated_groups
    )


def beers_applies(facts: PatientFacts, order: Medication | None = None) -> bool:
    return not end_of_life_care(facts, order)
