"""The feedback store: which rule served which card, what clinicians did with it, and the report.

Synchronous on purpose: SQLAlchemy's sync engine is the well-trodden path for SQLite and
PostgreSQL, and the API calls these methods in a worker thread. Nothing here holds PHI: card
uuids, rule and service ids, outcomes, override codes and times. (`userComment` is free text a
clinician typed; it is stored for audit but never logged or reported.)
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, overload

from sqlalchemy import Connection, Engine, Table, func, select

from cds_service.observability.redaction import loggable_id
from cds_service.store.audit import AuditWriter
from cds_service.store.export import FeedbackRecord, feedback_records
from cds_service.store.feedback_models import FeedbackItem
from cds_service.store.report_model import ReasonCount, RuleReport
from cds_service.store.rows import insert_ignore
from cds_service.store.tables import Feedback, ServedCard

log = logging.getLogger(__name__)

UNKNOWN_RULE = "(unknown)"
_IN_CHUNK = 500  # stay far below SQLite's bound-parameter limit


class CardLike(Protocol):
    @property
    def uuid(self) -> str | None: ...
    @property
    def indicator(self) -> str: ...


class FindingLike(Protocol):
    @property
    def card_key(self) -> str: ...


class ServedCardLike(Protocol):
    """What `queue_served` reads from a rendered card (cards.render.RenderedCard)."""

    @property
    def card(self) -> CardLike: ...
    @property
    def rule_id(self) -> str: ...
    @property
    def finding(self) -> FindingLike: ...


@dataclass(frozen=True, slots=True)
class FeedbackOutcome:
    """What one feedback POST did. `counted` holds (rule id or None, outcome) per NEW item,
    so metrics count each item once however often it is re-sent."""

    stored: int
    duplicates: int
    unknown_cards: int
    counted: tuple[tuple[str | None, str], ...]


class _ServedRows(Sequence[Mapping[str, Any]]):
    """The served-card rows of one call, made when read (by the audit writer's thread)."""

    __slots__ = ("_service_id", "_hook_instance", "_groups", "_served_at", "_count")

    def __init__(
        self,
        service_id: str,
        hook_instance: str,
        cards: Sequence[ServedCardLike],
        silent: Sequence[ServedCardLike],
        served_at: float,
    ) -> None:
        self._service_id = service_id
        self._hook_instance = hook_instance
        self._groups = ((cards, True), (silent, False))
        self._served_at = served_at
        self._count = sum(1 for group in (cards, silent) for r in group if r.card.uuid)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        now = datetime.fromtimestamp(self._served_at, UTC)
        instance = loggable_id(self._hook_instance)  # a UUID, or a digest of caller text
        for group, shown in self._groups:
            for rendered in group:
                if rendered.card.uuid:
                    yield {
                        "card_uuid": rendered.card.uuid,
                        "service_id": self._service_id,
                        "hook_instance": instance,
                        "rule_id": rendered.rule_id,
                        "card_key": rendered.finding.card_key,
                        "indicator": rendered.card.indicator,
                        "shown": shown,
                        "served_at": now,
                    }

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, Any]]: ...
    def __getitem__(
        self, index: int | slice
    ) -> Mapping[str, Any] | Sequence[Mapping[str, Any]]:
        return list(self)[index]


def utc(value: datetime) -> datetime:
    """Aware UTC. SQLite hands datetimes back naive; we only ever write UTC, so naive is UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def feedback_id(service_id: str, item: FeedbackItem) -> str:
    """The natural key of a feedback item, hashed: a re-sent item gets the same id."""
    reason = item.overrideReason.reason if item.overrideReason else None
    key = [
        service_id,
        item.card,
        item.outcome,
        utc(item.outcomeTimestamp).isoformat(),
        sorted(s.id for s in item.acceptedSuggestions or ()),
        reason.system if reason else None,
        reason.code if reason else None,
        item.overrideReason.userComment if item.overrideReason else None,
    ]
    return hashlib.sha256(json.dumps(key, separators=(",", ":")).encode()).hexdigest()


class Store:
    """Served cards and feedback, over one SQLAlchemy engine (shared with the replay store)."""

    def __init__(
        self, engine: Engine, *, audit_batch_rows: int = 500, audit_flush_seconds: float = 0.5
    ) -> None:
        self.engine = engine
        self._feedback: Table = Feedback.__table__  # type: ignore[assignment]
        self.audit = AuditWriter(
            engine,
            ServedCard.__table__,  # type: ignore[arg-type]
            batch_rows=audit_batch_rows,
            flush_seconds=audit_flush_seconds,
        )

    def record_served(
        self,
        service_id: str,
        hook_instance: str,
        cards: Sequence[ServedCardLike],
        *,
        silent: Sequence[ServedCardLike] = (),
    ) -> None:
        """Remember which rule produced each card, now (tests and tools; the API queues)."""
        self.queue_served(service_id, hook_instance, cards, silent=silent)
        self.flush_served()

    def queue_served(
        self,
        service_id: str,
        hook_instance: str,
        cards: Sequence[ServedCardLike],
        *,
        silent: Sequence[ServedCardLike] = (),
    ) -> None:
        """Queue the audit rows of the cards sent and of the cards a silent rule would have
        sent, for the batch writer (no I/O: safe on the event loop). The rows are built by the
        writer, in its thread; the call only keeps what they are made of, and the time."""
        self.audit.add(_ServedRows(service_id, hook_instance, cards, silent, time.time()))

    def flush_served(self) -> None:
        """Write the queued audit rows now (feedback and reports read them)."""
        self.audit.flush()

    def record_feedback(
        self,
        service_id: str,
        items: Sequence[FeedbackItem],
        *,
        received_at: datetime | None = None,
    ) -> FeedbackOutcome:
        """Store each item once (a re-sent item is a no-op); keep every distinct outcome of a
        card. Feedback for a card we never served is stored and logged, not refused."""
        self.flush_served()  # the cards this feedback is about may still be queued
        now = utc(received_at) if received_at else datetime.now(UTC)
        stored: list[tuple[str | None, str]] = []
        with self.engine.begin() as conn:
            rules = self._rules(conn, {item.card for item in items})
            for item in items:
                row = _feedback_row(service_id, item, now, rules.get(item.card))
                if insert_ignore(conn, self._feedback, row):
                    stored.append((rules.get(item.card), item.outcome))
        unknown = sorted({item.card for item in items if item.card not in rules})
        if unknown:
            log.info(
                "feedback for %d card(s) this service has no record of serving; stored anyway",
                len(unknown),
                extra={
                    "service": service_id,
                    "unknown_cards": [loggable_id(card) for card in unknown[:20]],
                },
            )
        return FeedbackOutcome(
            stored=len(stored),
            duplicates=len(items) - len(stored),
            unknown_cards=len(unknown),
            counted=tuple(stored),
        )

    def rule_for_cards(self, uuids: Iterable[str]) -> dict[str, str]:
        """The rule behind each card uuid we served; unknown uuids are left out."""
        self.flush_served()
        with self.engine.connect() as conn:
            return self._rules(conn, set(uuids))

    def _rules(self, conn: Connection, uuids: set[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        ordered = sorted(uuids)
        for start in range(0, len(ordered), _IN_CHUNK):
            chunk = ordered[start : start + _IN_CHUNK]
            query = select(ServedCard.card_uuid, ServedCard.rule_id).where(
                ServedCard.card_uuid.in_(chunk)
            )
            found.update({uuid: rule for uuid, rule in conn.execute(query).all()})
        return found

    def report(
        self,
        since: datetime | None = None,
        *,
        reason_displays: Mapping[tuple[str | None, str], str] | None = None,
    ) -> list[RuleReport]:
        """Per rule: cards served since `since` (and cards a silent rule would have shown),
        and what happened to them.

        A card counts once, by its latest reported outcome (accepted then overridden counts as
        overridden). Feedback for cards with no served record comes last, as rule
        `(unknown)`. `reason_displays` fills in displays clients left out, keyed (system, code).
        """
        self.flush_served()
        with self.engine.connect() as conn:
            return _build_report(conn, utc(since) if since else None, reason_displays or {})

    def export(
        self,
        since: datetime | None = None,
        *,
        reason_displays: Mapping[tuple[str | None, str], str] | None = None,
        hooks: Mapping[str, str] | None = None,
    ) -> list[FeedbackRecord]:
        """Every feedback item (acted on since `since`) with its rule and card; `hooks` maps
        service ids to their hook."""
        self.flush_served()
        with self.engine.connect() as conn:
            return feedback_records(
                conn, utc(since) if since else None, reason_displays or {}, hooks or {}
            )


def _feedback_row(
    service_id: str, item: FeedbackItem, received_at: datetime, rule_id: str | None
) -> dict[str, Any]:
    override = item.overrideReason
    reason = override.reason if override else None
    suggestions = [loggable_id(s.id) for s in item.acceptedSuggestions or ()]
    return {
        "id": feedback_id(service_id, item),
        "service_id": service_id,
        "card_uuid": loggable_id(item.card),  # our cards' ids are UUIDs; other text: digest
        "outcome": item.outcome,
        "accepted_suggestions": json.dumps(suggestions) if suggestions else None,
        "override_system": reason.system if reason else None,
        "override_code": reason.code if reason else None,
        "override_display": reason.display if reason else None,
        "override_comment": override.userComment if override else None,
        "outcome_at": utc(item.outcomeTimestamp),
        "received_at": received_at,
        "rule_id": rule_id,
    }


def _build_report(
    conn: Connection,
    since: datetime | None,
    displays: Mapping[tuple[str | None, str], str],
) -> list[RuleReport]:
    ranked = select(
        Feedback.card_uuid,
        Feedback.outcome,
        Feedback.override_system,
        Feedback.override_code,
        Feedback.override_display,
        Feedback.received_at,
        Feedback.rule_id,
        func.row_number()
        .over(
            partition_by=Feedback.card_uuid,
            order_by=(Feedback.outcome_at.desc(), Feedback.received_at.desc(), Feedback.id.desc()),
        )
        .label("rank"),
    ).subquery()
    latest = select(ranked).where(ranked.c.rank == 1).subquery()
    served_since = [ServedCard.served_at >= since] if since else []

    served: dict[str, int] = {}
    silent: dict[str, int] = {}
    for rule_id, was_shown, count in conn.execute(
        select(ServedCard.rule_id, ServedCard.shown, func.count())
        .where(*served_since)
        .group_by(ServedCard.rule_id, ServedCard.shown)
    ).all():
        (served if was_shown else silent)[rule_id] = count
    outcomes: dict[tuple[str, str], int] = {}
    joined = latest.join(ServedCard, ServedCard.card_uuid == latest.c.card_uuid)
    for rule_id, outcome, count in conn.execute(
        select(ServedCard.rule_id, latest.c.outcome, func.count())
        .select_from(joined)
        .where(*served_since)
        .group_by(ServedCard.rule_id, latest.c.outcome)
    ).all():
        outcomes[(rule_id, outcome)] = count

    reasons: dict[str, list[ReasonCount]] = {}
    for rule_id, system, code, display, count in conn.execute(
        select(
            ServedCard.rule_id,
            latest.c.override_system,
            latest.c.override_code,
            func.max(latest.c.override_display),
            func.count(),
        )
        .select_from(joined)
        .where(latest.c.outcome == "overridden", latest.c.override_code.is_not(None), *served_since)
        .group_by(ServedCard.rule_id, latest.c.override_system, latest.c.override_code)
    ).all():
        shown = display or displays.get((system, code))
        reasons.setdefault(rule_id, []).append(ReasonCount(system, code, shown, count))

    rows = [
        RuleReport(
            rule_id=rule_id,
            served=served.get(rule_id, 0),
            accepted=outcomes.get((rule_id, "accepted"), 0),
            overridden=outcomes.get((rule_id, "overridden"), 0),
            reasons=_ranked(reasons.get(rule_id, [])),
            silent=silent.get(rule_id, 0),
        )
        for rule_id in sorted(served.keys() | silent.keys())
    ]
    unknown = _unknown_card_row(conn, latest, since)
    return [*rows, unknown] if unknown else rows


def _unknown_card_row(conn: Connection, latest: Any, since: datetime | None) -> RuleReport | None:
    """Feedback whose card this service has no record of (served elsewhere, or before the
    audit). Feedback whose audit row was pruned knows its rule and is left out: the table
    covers the retention period (the export has every item)."""
    query = (
        select(latest.c.outcome, func.count())
        .select_from(latest.outerjoin(ServedCard, ServedCard.card_uuid == latest.c.card_uuid))
        .where(ServedCard.card_uuid.is_(None), latest.c.rule_id.is_(None))
        .group_by(latest.c.outcome)
    )
    if since:
        query = query.where(latest.c.received_at >= since)
    counts: dict[str, int] = dict(conn.execute(query).all())
    if not counts:
        return None
    return RuleReport(
        rule_id=UNKNOWN_RULE,
        served=0,
        accepted=counts.get("accepted", 0),
        overridden=counts.get("overridden", 0),
        reasons=(),
    )


def _ranked(reasons: list[ReasonCount]) -> tuple[ReasonCount, ...]:
    return tuple(sorted(reasons, key=lambda r: (-r.count, r.system or "", r.code)))
