"""Magnesium orders (magnesium_supplement group; oral magnesium_containing products): see
supplement.py for the one-card-per-order logic.

Sources: OTC magnesium oxide Drug Facts and Wakai 2019 (hypermagnesaemia with MgO, eGFR <= 55.4
a risk factor); magnesium sulfate injection label (severe renal insufficiency: at most 20 g in
48 h, monitor levels); Cochrane 2020 (Garrison): unlikely to help idiopathic cramps, evidence
in pregnancy conflicting. Hypomagnesaemia default 0.70 mmol/L, configurable (F7);
hypermagnesaemia > 2.6 mg/dL (§11.1).
"""

from __future__ import annotations

from cds_service.clinical.types import Medication
from cds_service.rules.supplement import Electrolyte, Use, card_specs, supplement_findings
from cds_service.rules.types import Finding, RuleInput

MAGNESIUM_PRODUCTS = frozenset({"magnesium_supplement", "magnesium_containing"})


def magnesium_use(order: Medication) -> Use:
    """Intravenous magnesium is never cramp treatment; nor is a laxative or antacid (§11.4)."""
    stated = order.stated_groups
    if "magnesium_sulfate_parenteral" in order.groups or order.route == "injection":
        if "pre_eclampsia_eclampsia" in stated:
            return "obstetric"
        if "torsades_de_pointes" in stated:
            return "torsades"
        if "asthma" in stated:
            return "asthma"
        return "iv"
    if "magnesium_laxative_antacid" in order.groups or stated & {
        "laxative_or_bowel_prep",
        "antacid_use",
        "constipation",
    }:
        return "laxative"
    return "supplement"


MAGNESIUM = Electrolyte(
    analyte="magnesium",
    companion="potassium",
    drug_group="magnesium_supplement",
    containing_group="magnesium_containing",
    low_group="hypomagnesemia",
    raising_groups=MAGNESIUM_PRODUCTS,
    use=magnesium_use,
    skip_in_pregnancy=True,
    explained_by=lambda facts: False,
    **card_specs("magnesium"),
)
CARDS = MAGNESIUM.cards


def magnesium_supplement(inp: RuleInput) -> list[Finding]:
    return supplement_findings(inp, MAGNESIUM)
