"""Potassium supplements (potassium_supplement group): kidney risk and documented deficiency;
oral potassium-containing products: kidney risk only.

Hypokalaemia is K < 3.5 mmol/L (StatPearls NBK482465). Impaired kidneys excrete potassium
poorly, so supplements risk hyperkalaemia; the eGFR bands mirror the magnesium card (design
choice). Logic shared with magnesium: see supplement.py.
"""

from __future__ import annotations

from cds_service.rules.supplement import Electrolyte, card_specs, supplement_findings
from cds_service.rules.types import Finding, RuleInput

POTASSIUM = Electrolyte(
    analyte="potassium",
    companion="magnesium",
    drug_group="potassium_supplement",
    containing_group="potassium_containing",
    low_group="hypokalemia",
    threshold=lambda t: t.hypokalemia_mmol_per_l,
    **card_specs("potassium"),
)
CARDS = POTASSIUM.cards


def potassium_supplement(inp: RuleInput) -> list[Finding]:
    return supplement_findings(inp, POTASSIUM)
