"""Builders for store tests: rendered cards and feedback items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cds_service.cdshooks.response import Card, Source
from cds_service.store.feedback_models import FeedbackItem

SERVICE = "muscle-cramps-order-sign"
REASON_SYSTEM = "https://cds.example.org/override-reason"


@dataclass(frozen=True)
class Finding:
    card_key: str


@dataclass(frozen=True)
class Rendered:
    """Stands in for cards.render.RenderedCard: a card, the rule behind it, its card key."""

    card: Card
    rule_id: str
    finding: Finding


def rendered(rule_id: str, indicator: str = "warning", card_key: str | None = None) -> Rendered:
    card = Card(summary="A card", indicator=indicator, source=Source(label="Guideline"))
    return Rendered(card=card, rule_id=rule_id, finding=Finding(card_key or f"{rule_id}-card"))


def accepted(
    card: str, when: str = "2026-11-20T10:00:00Z", suggestion: str = "s-1"
) -> FeedbackItem:
    return FeedbackItem.model_validate({
        "card": card, "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion}],
        "outcomeTimestamp": when,
    })


def overridden(
    card: str, when: str = "2026-11-20T11:00:00Z", code: str | None = None, **reason: Any
) -> FeedbackItem:
    body: dict[str, Any] = {"card": card, "outcome": "overridden", "outcomeTimestamp": when}
    if code:
        body["overrideReason"] = {"reason": {"code": code, "system": REASON_SYSTEM, **reason}}
    return FeedbackItem.model_validate(body)
