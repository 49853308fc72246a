"""Feedback as computable records: one per item stored, joined to the card and rule behind it.

For `cds-service report --format csv|ndjson`: what a committee or a data team loads into its
own tools. The clinician's free-text comment (`userComment`) is not exported: it may hold
patient details, and it is kept in the database for audit only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from cds_service.store.tables import Feedback, ServedCard

FIELDS = (
    "feedback_id", "service", "hook", "rule", "card_key", "card", "indicator", "outcome",
    "accepted_suggestions", "override_system", "override_code", "override_display",
    "outcome_at", "received_at", "served_at",
)


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """One feedback item. `rule`, `card_key`, `indicator` and `served_at` are None when the
    card was never served by this database (or served before the audit kept card keys);
    `rule` outlives the audit row, which is pruned after the retention period."""

    feedback_id: str
    service: str
    hook: str | None
    rule: str | None
    card_key: str | None
    card: str
    indicator: str | None
    outcome: str
    accepted_suggestions: tuple[str, ...]
    override_system: str | None
    override_code: str | None
    override_display: str | None
    outcome_at: datetime
    received_at: datetime
    served_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """Field names as in FIELDS; times as RFC 3339 UTC."""
        row: dict[str, Any] = {}
        for name in FIELDS:
            value = getattr(self, name)
            row[name] = _iso(value) if isinstance(value, datetime) else value
        row["accepted_suggestions"] = list(self.accepted_suggestions)
        return row

    def to_csv(self) -> list[str]:
        """Strings in FIELDS order; suggestion ids space-separated, missing values empty. Text
        the EHR sent (override codes and displays) that a spreadsheet would run as a formula
        gets a leading apostrophe (OWASP "CSV injection")."""
        row = self.to_json()
        row["accepted_suggestions"] = " ".join(self.accepted_suggestions)
        return [_inert("" if row[name] is None else str(row[name])) for name in FIELDS]


def feedback_records(
    conn: Connection,
    since: datetime | None,
    displays: Mapping[tuple[str | None, str], str],
    hooks: Mapping[str, str],
) -> list[FeedbackRecord]:
    """Every feedback item whose outcome happened at or after `since`, oldest first."""
    query = (
        select(
            Feedback.id,
            Feedback.service_id,
            func.coalesce(Feedback.rule_id, ServedCard.rule_id),
            ServedCard.card_key,
            Feedback.card_uuid,
            ServedCard.indicator,
            Feedback.outcome,
            Feedback.accepted_suggestions,
            Feedback.override_system,
            Feedback.override_code,
            Feedback.override_display,
            Feedback.outcome_at,
            Feedback.received_at,
            ServedCard.served_at,
        )
        .select_from(Feedback)
        .outerjoin(ServedCard, ServedCard.card_uuid == Feedback.card_uuid)
        .order_by(Feedback.outcome_at, Feedback.received_at, Feedback.id)
    )
    if since is not None:
        query = query.where(Feedback.outcome_at >= since)
    records = []
    for (fid, service, rule, key, card, indicator, outcome, suggestions, system, code,
         display, outcome_at, received_at, served_at) in conn.execute(query).all():
        records.append(FeedbackRecord(
            feedback_id=fid,
            service=service,
            hook=hooks.get(service),
            rule=rule,
            card_key=key,
            card=card,
            indicator=indicator,
            outcome=outcome,
            accepted_suggestions=tuple(json.loads(suggestions)) if suggestions else (),
            override_system=system,
            override_code=code,
            override_display=display or (displays.get((system, code)) if code else None),
            outcome_at=_utc(outcome_at),
            received_at=_utc(received_at),
            served_at=_utc(served_at) if served_at else None,
        ))
    return records


def _inert(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return _utc(value).isoformat().replace("+00:00", "Z")
