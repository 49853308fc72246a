"""Magnesium supplements (magnesium_supplement group): kidney risk and documented deficiency;
oral magnesium-containing products (antacids, laxatives, bowel preps): kidney risk only.

Sources: OTC magnesium oxide Drug Facts and Wakai 2019 (hypermagnesaemia with MgO, eGFR <= 55.4
a risk factor); Cochrane 2020 (Garrison): unlikely to help idiopathic cramps. Threshold default
0.70 mmol/L, configurable (F7). Logic shared with potassium: see supplement.py.
"""

from __future__ import annotations

from cds_service.rules.supplement import Electrolyte, card_specs, supplement_findings
from cds_service.rules.types import Finding, RuleInput

MAGNESIUM = Electrolyte(
    analyte="magnesium",
    companion="potassium",
    drug_group="magnesium_supplement",
    containing_group="magnesium_containing",
    low_group="hypomagnesemia",
    threshold=lambda t: t.hypomagnesemia_mmol_per_l,
    **card_specs("magnesium"),
)
CARDS = MAGNESIUM.cards


def magnesium_supplement(inp: RuleInput) -> list[Finding]:
    return supplement_findings(inp, MAGNESIUM)
