"""Does an answer meet a scenario's expectations? Each miss becomes one readable reason."""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.rules import CARD_SPECS
from cds_service.tools.outcome import Observed, SeenCard
from cds_service.tools.scenario_model import CardExpect, Expect


def card_matches(want: CardExpect, seen: SeenCard) -> bool:
    if want.rule is not None and seen.rule_id != want.rule:
        return False
    if want.card is not None and seen.card_key != want.card:
        return False
    if want.indicator is not None and seen.indicator != want.indicator:
        return False
    if want.summary_contains and want.summary_contains.lower() not in seen.summary.lower():
        return False
    if want.detail_contains and want.detail_contains.lower() not in seen.detail.lower():
        return False
    if want.offers_drug is not None and want.offers_drug != (seen.drug_offers > 0):
        return False
    if want.offers_removal is not None and want.offers_removal != (seen.removals > 0):
        return False
    return want.suggestions is None or want.suggestions == (seen.suggestions > 0)


def _assign(wants: Sequence[CardExpect], seen: Sequence[SeenCard]) -> list[int | None]:
    """A one-to-one assignment of expected cards to seen cards (bipartite matching), so two
    expectations can't both be met by the same card. None: no card left for that one."""
    owner: dict[int, int] = {}

    def place(w: int, visited: set[int]) -> bool:
        for s, card in enumerate(seen):
            if s in visited or not card_matches(wants[w], card):
                continue
            visited.add(s)
            if s not in owner or place(owner[s], visited):
                owner[s] = w
                return True
        return False

    for w in range(len(wants)):
        place(w, set())
    by_want: dict[int, int] = {w: s for s, w in owner.items()}
    return [by_want.get(w) for w in range(len(wants))]


def _seen_text(seen: Sequence[SeenCard]) -> str:
    return ", ".join(c.label() for c in seen) or "no cards"


def compare(expect: Expect, observed: Observed) -> list[str]:
    """Reasons the answer falls short; empty when it meets every expectation."""
    if observed.status != expect.status:
        detail = f": {observed.error}" if observed.error else ""
        return [f"status {observed.status}, expected {expect.status}{detail}"]
    reasons: list[str] = []
    seen = observed.cards
    assigned = _assign(expect.cards, seen)
    for want, slot in zip(expect.cards, assigned, strict=True):
        if slot is None:
            reasons.append(f"missing {_describe(want)}; got {_seen_text(seen)}")
    for name in expect.absent:
        # A card key names that card only, even where a rule has the same id (cramp-workup).
        if name in CARD_SPECS:
            fired = [c for c in seen if c.card_key == name]
        else:
            fired = [c for c in seen if c.rule_id == name]
        if fired:
            reasons.append(f"must not fire: {name}; got {_seen_text(fired)}")
    if expect.max_cards is not None and len(seen) > expect.max_cards:
        reasons.append(f"{len(seen)} cards, at most {expect.max_cards}: {_seen_text(seen)}")
    if expect.no_drug_offer:
        offering = [c for c in seen if c.drug_offers]
        if offering:
            reasons.append(f"offers a one-click drug order: {_seen_text(offering)}")
    if expect.exact:
        used = {s for s in assigned if s is not None}
        extra = [c for i, c in enumerate(seen) if i not in used]
        if extra:
            reasons.append(f"unexpected cards (exact): {_seen_text(extra)}")
    return reasons


def _describe(want: CardExpect) -> str:
    text = want.label()
    extras = []
    if want.summary_contains:
        extras.append(f"summary~{want.summary_contains!r}")
    if want.detail_contains:
        extras.append(f"detail~{want.detail_contains!r}")
    if want.suggestions is not None:
        extras.append("with suggestions" if want.suggestions else "without suggestions")
    if want.offers_drug is not None:
        extras.append("offering a drug order" if want.offers_drug else "no drug order offered")
    if want.offers_removal is not None:
        extras.append("offering removal" if want.offers_removal else "no removal offered")
    return text + (f" [{', '.join(extras)}]" if extras else "")
