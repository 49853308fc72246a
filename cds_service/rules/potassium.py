"""Potassium orders (potassium_supplement group; oral potassium_containing products): see
supplement.py for the one-card-per-order logic.

Hypokalaemia K < 3.5 mmol/L (StatPearls NBK482465); hyperkalaemia above the lab's upper limit,
else > 5.0 mmol/L (KDIGO Controversies 2020; ERC / UK Kidney Association 2020 grade 5.5-5.9
mild, 6.0-6.4 moderate, >= 6.5 severe; §11.1). Impaired kidneys excrete potassium poorly; the
eGFR bands mirror the magnesium cards (design choice). Potassium citrate (urinary
alkaliniser, AUA 2014 kidney stones guideline) and potassium phosphate (phosphate repletion)
are not potassium supplementation.
"""

from __future__ import annotations

from cds_service.clinical.types import Medication, PatientFacts
from cds_service.rules.supplement import Electrolyte, Use, card_specs, supplement_findings
from cds_service.rules.types import Finding, RuleInput

# Drugs that raise potassium, named on the potassium cards (§11.1).
POTASSIUM_RAISING = frozenset(
    {
        "potassium_supplement",
        "potassium_containing",
        "ace_inhibitor",
        "angiotensin_receptor_blocker",
        "potassium_sparing",
        "trimethoprim",
    }
)


def potassium_use(order: Medication) -> Use:
    stated = order.stated_groups
    if "potassium_citrate" in order.groups or "kidney_stones" in stated:
        return "citrate"
    if "potassium_phosphate" in order.groups or "hypophosphatemia" in stated:
        return "phosphate"
    return "supplement"


def replaces_diuretic_losses(facts: PatientFacts) -> bool:
    """A loop or thiazide diuretic is active: an unexplained potassium supplement beside it
    presumably replaces its losses (not a potassium-sparing one: that would add to the load)."""
    return any("potassium_sparing" not in m.groups for m in facts.takes("diuretic"))


POTASSIUM = Electrolyte(
    analyte="potassium",
    companion="magnesium",
    drug_group="potassium_supplement",
    containing_group="potassium_containing",
    low_group="hypokalemia",
    raising_groups=POTASSIUM_RAISING,
    use=potassium_use,
    skip_in_pregnancy=False,
    explained_by=replaces_diuretic_losses,
    **card_specs("potassium"),
)
CARDS = POTASSIUM.cards


def potassium_supplement(inp: RuleInput) -> list[Finding]:
    return supplement_findings(inp, POTASSIUM)
