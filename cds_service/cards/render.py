"""Findings -> CDS Hooks cards: one card per rule per order, most urgent first, capped.

Ordering is critical > warning > info, stable within a level (rule order). Duplicates (the same
rule about the same order) keep the most urgent. The cap (`max_cards`) never drops a critical
card: if there are more critical cards than the cap, all of them are sent and nothing else.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import NamedTuple

from cds_service.cards.actions import build_suggestions
from cds_service.cards.catalog import CardCatalog
from cds_service.cards.ids import new_id
from cds_service.cdshooks.response import Card
from cds_service.rules.budget import order_key
from cds_service.rules.types import INDICATOR_RANK, Finding, RuleInput


class RenderedCard(NamedTuple):
    card: Card
    rule_id: str
    finding: Finding


def render_cards(
    findings: Iterable[Finding], inp: RuleInput, catalog: CardCatalog, *, max_cards: int
) -> list[RenderedCard]:
    ordered = sorted(findings, key=lambda f: INDICATOR_RANK[f.indicator])
    seen: set[tuple[str, Hashable]] = set()
    kept: list[Finding] = []
    for finding in ordered:
        key = (finding.rule_id, order_key(finding.order))
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    critical = sum(1 for f in kept if f.indicator == "critical")
    kept = kept[: max(max_cards, critical)]
    return [RenderedCard(render_card(f, inp, catalog), f.rule_id, f) for f in kept]


def render_card(finding: Finding, inp: RuleInput, catalog: CardCatalog) -> Card:
    content = catalog.card(finding.card_key)
    suggestions, behavior = build_suggestions(finding, inp, catalog)
    return Card(
        uuid=new_id(),
        summary=catalog.summary(finding),
        detail=catalog.detail(finding, inp.facts),
        indicator=finding.indicator,
        source=content.source,
        suggestions=suggestions or None,
        selectionBehavior=behavior,
        overrideReasons=list(content.override_reasons) or None,
    )
