"""The database as release 0.1.0 made it: its three models, frozen, created with `create_all`
(no `alembic_version`), and filled the way 0.1.0's code filled them."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Index, MetaData, String, Table, Text

metadata = MetaData()
AWARE = DateTime(timezone=True)

served_cards = Table(
    "served_cards", metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column("service_id", String(128), nullable=False),
    Column("hook_instance", String(256), nullable=False),
    Column("rule_id", String(128), nullable=False, index=True),
    Column("indicator", String(16), nullable=False),
    Column("served_at", AWARE, nullable=False, index=True),
)
feedback = Table(
    "feedback", metadata,
    Column("id", String(64), primary_key=True),
    Column("service_id", String(128), nullable=False),
    Column("card_uuid", String(64), nullable=False, index=True),
    Column("outcome", String(16), nullable=False),
    Column("accepted_suggestions", Text, nullable=True),
    Column("override_system", String(256), nullable=True),
    Column("override_code", String(128), nullable=True),
    Column("override_display", String(512), nullable=True),
    Column("override_comment", Text, nullable=True),
    Column("outcome_at", AWARE, nullable=False),
    Column("received_at", AWARE, nullable=False, index=True),
)
seen_jwt = Table(
    "seen_jwt", metadata,
    Column("key", String(128), primary_key=True),
    Column("expires_at", AWARE, nullable=False),
    Index("ix_seen_jwt_expires", "expires_at"),
)

SERVICE = "muscle-cramps-order-select"


def create_populated(engine: Engine, cards: int = 60) -> None:
    """Release 0.1.0's schema with `cards` served cards, feedback on most of them (accepted,
    overridden with and without reasons, comments, a card answered twice, feedback for a card
    never served) and a few used JWT ids."""
    metadata.create_all(engine)
    start = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    served: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for i in range(cards):
        card = str(uuid.UUID(int=i + 1))
        rule = ("quinine-for-cramps", "magnesium-supplement", "cramp-workup")[i % 3]
        when = start + timedelta(hours=i)
        served.append({"card_uuid": card, "service_id": SERVICE, "hook_instance": str(uuid.uuid4()),
                       "rule_id": rule, "indicator": "warning", "served_at": when})
        if i % 4 == 3:
            continue  # unanswered
        accepted = i % 2 == 0
        answers.append(_feedback(card, "accepted" if accepted else "overridden", when, i))
        if i % 10 == 1:  # accepted later after an override: two rows for one card
            answers.append(_feedback(card, "accepted", when + timedelta(minutes=5), i))
    answers.append(_feedback("never-served-card", "overridden", start, 999))
    with engine.begin() as conn:
        conn.execute(served_cards.insert(), served)
        conn.execute(feedback.insert(), answers)
        conn.execute(seen_jwt.insert(), [
            {"key": hashlib.sha256(f"iss\n{n}".encode()).hexdigest(),
             "expires_at": start + timedelta(days=400 + n)} for n in range(3)
        ])


def _feedback(card: str, outcome: str, when: datetime, i: int) -> dict[str, Any]:
    overridden = outcome == "overridden"
    return {
        "id": hashlib.sha256(f"{card}{outcome}{when}".encode()).hexdigest(),
        "service_id": SERVICE,
        "card_uuid": card,
        "outcome": outcome,
        "accepted_suggestions": None if overridden else json.dumps([f"s-{i}"]),
        "override_system": "https://cds.example.org/reason" if overridden and i % 3 else None,
        "override_code": "documented-indication" if overridden and i % 3 else None,
        "override_display": "Documented indication" if overridden and i % 9 == 1 else None,
        "override_comment": "discussed at length" if overridden and i % 5 == 1 else None,
        "outcome_at": when + timedelta(minutes=2),
        "received_at": when + timedelta(minutes=3),
    }
