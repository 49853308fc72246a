"""All tables. No PHI: ids of cards, rules, services and hook instances, outcomes and times.

The schema is changed by migrations only (`migrations/versions`, one revision per change); a
test checks that a database migrated to head matches these models exactly.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from cds_service.store.db import Base


class ServedCard(Base):
    """One card this service returned (or, for a rule in silent mode, would have returned), so
    feedback can be joined to the rule behind it. Pruned after the retention period."""

    __tablename__ = "served_cards"

    card_uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(128))
    hook_instance: Mapped[str] = mapped_column(String(256))
    rule_id: Mapped[str] = mapped_column(String(128), index=True)
    indicator: Mapped[str] = mapped_column(String(16))
    served_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    card_key: Mapped[str | None] = mapped_column(String(128), nullable=True)  # None before r0002
    # False: the rule is in silent mode, so the card was evaluated and audited but not sent.
    shown: Mapped[bool] = mapped_column(Boolean, server_default=true())


class Feedback(Base):
    """One feedback item. The natural key makes a repeated POST of the same item a no-op."""

    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # hash of the natural key
    service_id: Mapped[str] = mapped_column(String(128))
    card_uuid: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    accepted_suggestions: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list
    override_system: Mapped[str | None] = mapped_column(String(256), nullable=True)
    override_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Clients usually echo the reason without its display; keep it when they do send one.
    override_display: Mapped[str | None] = mapped_column(String(512), nullable=True)
    override_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # The rule behind the card when the feedback arrived: kept after the audit row is pruned.
    rule_id: Mapped[str | None] = mapped_column(String(128), nullable=True)


class SeenJwt(Base):
    """A JWT id already used; kept until the token expires (replay protection, all workers)."""

    __tablename__ = "seen_jwt"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)  # sha256(iss + jti)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_seen_jwt_expires", "expires_at"),)
