"""The guideline as pure rules: `evaluate(RuleInput) -> list[Finding]`.

Each module holds one recommendation and exports its rule function(s) and the CardSpecs it can
emit (CARDS). `CARD_SPECS` is the registry the card catalog checks `cards/` against at start-up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from cds_service.rules import (
    baclofen_safety,
    benzodiazepine,
    cirrhosis_cramps,
    cramp_workup,
    magnesium,
    muscle_relaxant,
    potassium,
    quinidine,
    quinine,
)
from cds_service.rules.budget import apply_budget
from cds_service.rules.types import INDICATOR_RANK, CardSpec, Finding, RuleInput

Rule = Callable[[RuleInput], list[Finding]]

# Rule order breaks ties in the alert budget (budget.py): among cards of one urgency the
# earlier rule's card is kept. A markedly abnormal result first (K < 3, CK >= 10x: act now),
# then harm (quinine, baclofen, Beers drugs), then the risk of a supplement (potassium before
# magnesium: hyperkalaemia kills), then advice.
RULES: tuple[Rule, ...] = (
    cramp_workup.cramp_workup,
    quinine.quinine_for_cramps,
    quinidine.quinidine_not_for_cramps,
    baclofen_safety.baclofen_safety,
    benzodiazepine.benzodiazepine_older_adult,
    muscle_relaxant.skeletal_muscle_relaxant,
    potassium.potassium_supplement,
    magnesium.magnesium_supplement,
    cirrhosis_cramps.cirrhosis_cramps,
)

_ALL_SPECS: tuple[CardSpec, ...] = (
    *cramp_workup.CARDS,
    *quinine.CARDS,
    *quinidine.CARDS,
    *baclofen_safety.CARDS,
    *benzodiazepine.CARDS,
    *muscle_relaxant.CARDS,
    *potassium.CARDS,
    *magnesium.CARDS,
    *cirrhosis_cramps.CARDS,
)
CARD_SPECS: Mapping[str, CardSpec] = {spec.key: spec for spec in _ALL_SPECS}
RULE_IDS: tuple[str, ...] = tuple(dict.fromkeys(spec.rule_id for spec in _ALL_SPECS))


def evaluate(inp: RuleInput) -> list[Finding]:
    """Run every rule, keep what the alert budget allows; deterministic order (rule order,
    then the rule's own order)."""
    return select(fire(inp), inp)


def fire(inp: RuleInput) -> list[Finding]:
    """Every rule's findings, before anything is left out (what a silent rule is audited for)."""
    return [finding for rule in RULES for finding in rule(inp)]


def select(findings: list[Finding], inp: RuleInput) -> list[Finding]:
    """The findings one call shows: the alert budget, each lab offered once. The pipeline
    leaves out rules a site switched off or silenced before this, so they never take a
    card's place in the budget or its lab offer."""
    return offer_each_lab_once(apply_budget(findings, inp.hook, inp.budget))


def offer_each_lab_once(findings: list[Finding]) -> list[Finding]:
    """A lab is offered by one card only: the most urgent one that suggests it.

    E.g. the magnesium "check levels" warning orders Mg and K; the cramp work-up card then
    offers only Ca, CK and TSH, so accepting both never orders a test twice. A card that only
    offers labs (the work-up) is dropped when every lab it would offer is on another card.
    """
    by_urgency = sorted(range(len(findings)), key=lambda i: INDICATOR_RANK[findings[i].indicator])
    offered: set[str] = set()
    out = list(findings)
    for i in by_urgency:
        finding = findings[i]
        suggestions = []
        for s in finding.suggestions:
            if s.kind == "order-labs":
                labs = tuple(lab for lab in s.labs if lab not in offered)
                offered.update(labs)
                if not labs:
                    continue
                s = dataclasses.replace(s, labs=labs)
            suggestions.append(s)
        if tuple(suggestions) != finding.suggestions:
            out[i] = dataclasses.replace(finding, suggestions=tuple(suggestions))
    # A card that exists to offer labs says nothing once another card offers all of them.
    return [
        f for f in out if f.suggestions or not CARD_SPECS[f.card_key].labs_only
    ]


__all__ = [
    "CARD_SPECS", "RULES", "RULE_IDS", "Rule", "evaluate", "fire", "offer_each_lab_once", "select",
]
