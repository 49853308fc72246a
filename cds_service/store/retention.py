"""Retention: old served-card audit rows and expired JWT ids are deleted; feedback is kept.

Deletes go in small batches (each its own short transaction, with a pause between), from a
background task in each process (hourly, first a minute or so after start-up) or from
`cds-service db prune`; never on the request path. Replicas pruning at the same time only
find less to delete. Feedback rows are never pruned: they hold the rule they were about, so
`report` and the export still name it after the audit row is gone.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute

from cds_service.store.tables import SeenJwt, ServedCard

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Pruned:
    audit_rows: int
    jwt_ids: int


class Retention:
    """Deletes served-card rows older than `audit_days` and JWT ids past their expiry."""

    def __init__(
        self,
        engine: Engine,
        *,
        audit_days: int = 400,
        batch_rows: int = 1_000,
        pause_seconds: float = 0.05,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self.audit_days = audit_days
        self._batch = batch_rows
        self._pause = pause_seconds
        self._clock = clock

    def prune(self) -> Pruned:
        now = self._clock()
        return Pruned(
            audit_rows=self._delete_before(
                ServedCard.card_uuid, ServedCard.served_at, now - timedelta(days=self.audit_days)
            ),
            jwt_ids=self._delete_before(SeenJwt.key, SeenJwt.expires_at, now),
        )

    def _delete_before(
        self,
        key: InstrumentedAttribute[str],
        stamp: InstrumentedAttribute[datetime],
        cutoff: datetime,
    ) -> int:
        """Delete rows with `stamp < cutoff`, `batch_rows` per transaction."""
        table = key.class_
        total = 0
        while True:
            batch = select(key).where(stamp < cutoff).limit(self._batch).scalar_subquery()
            with self._engine.begin() as conn:
                deleted = conn.execute(delete(table).where(key.in_(batch))).rowcount
            total += deleted
            if deleted < self._batch:
                return total
            time.sleep(self._pause)  # let the writers in between batches

    async def run(self, interval: float = 3600.0, first_after: float | None = None) -> None:
        """Until cancelled: prune in a worker thread every `interval` seconds (with jitter, so
        replicas started together spread out); the first time after `first_after`."""
        delay = random.uniform(30, 90) if first_after is None else first_after
        while True:
            await asyncio.sleep(delay)
            delay = interval * random.uniform(0.9, 1.1)
            try:
                pruned = await anyio.to_thread.run_sync(self.prune)
            except SQLAlchemyError as exc:
                log.warning("retention: pruning failed (%s); next try in %.0f s",
                            type(exc).__name__, delay)
                continue
            if pruned.audit_rows or pruned.jwt_ids:
                log.info(
                    "retention: deleted %d served-card row(s) older than %d days and %d "
                    "expired JWT id(s)", pruned.audit_rows, self.audit_days, pruned.jwt_ids,
                )
