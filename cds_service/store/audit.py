"""The served-card audit's batch writer: the request path queues rows, one task writes them.

A hook call only appends its rows to a list (no database work on the request path; the rows
may be a lazy sequence, built only when the writer reads them, in its thread). A
background task writes what has queued every `flush_seconds`, or as soon as `batch_rows` rows
are waiting, each batch in one transaction. Feedback, the report and shutdown flush first, so
a card's row is written before anything reads it. What a crash (SIGKILL, power loss) can lose
is what is queued: at most `flush_seconds` of calls, or `batch_rows` rows.

When the database does not answer, the rows stay queued and are retried on the next tick; past
`max_pending` rows the oldest are dropped, and both are said in one log line each, not per row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
from sqlalchemy import Engine, Table
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from cds_service.store.rows import insert_ignore

log = logging.getLogger(__name__)

Row = Mapping[str, Any]


class AuditWriter:
    """Queue served-card rows cheaply from any thread; write them in bounded batches."""

    def __init__(
        self,
        engine: Engine,
        table: Table,
        *,
        batch_rows: int = 500,
        flush_seconds: float = 0.5,
        max_pending: int = 100_000,
    ) -> None:
        self._engine = engine
        self._table = table
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self._max_pending = max_pending
        self._pending: list[Sequence[Row]] = []  # groups of rows, as queued
        self._count = 0  # rows in _pending
        self._lock = threading.Lock()  # guards _pending and _count
        self._write_lock = threading.Lock()  # one writer at a time keeps rows in order
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failing = False

    @property
    def pending(self) -> int:
        return self._count

    def add(self, rows: Sequence[Row]) -> None:
        """Queue rows (no I/O; a lazy sequence is not read here). A full batch wakes the
        writer task at once."""
        count = len(rows)
        if not count:
            return
        with self._lock:
            self._pending.append(rows)
            self._count += count
            dropped = self._count - self._max_pending
            if dropped > 0:
                self._drop_oldest(dropped)
            full = self._count >= self.batch_rows
        if dropped > 0:
            log.error("served-card audit: %d queued row(s) dropped (database not answering; "
                      "queue full at %d rows)", dropped, self._max_pending)
        if full and self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def flush(self) -> int:
        """Write the rows queued now, one transaction per `batch_rows`; the number written.
        Rows queued while this runs wait for the next flush (else a slow commit would be
        followed at once by another, and batching would stop under load). Rows the database
        refused to take are queued again, first."""
        with self._write_lock:
            with self._lock:
                groups, self._pending, self._count = self._pending, [], 0
            rows = [row for group in groups for row in group]  # lazy groups are built here
            for start in range(0, len(rows), self.batch_rows):
                if not self._write(rows[start : start + self.batch_rows]):
                    with self._lock:
                        self._pending.insert(0, rows[start:])
                        self._count += len(rows) - start
                    return start
            return len(rows)

    def _drop_oldest(self, rows: int) -> None:
        """Drop the `rows` oldest queued rows (the caller holds the lock)."""
        while rows > 0:
            first = self._pending[0]
            if len(first) <= rows:
                del self._pending[0]
                self._count -= len(first)
                rows -= len(first)
            else:
                self._pending[0] = list(first)[rows:]
                self._count -= rows
                rows = 0

    def _write(self, batch: list[Row]) -> bool:
        try:
            try:
                with self._engine.begin() as conn:
                    conn.execute(self._table.insert(), batch)  # one executemany: uuids are new
            except IntegrityError:  # a row already written (a retried batch): one at a time
                with self._engine.begin() as conn:
                    for row in batch:
                        insert_ignore(conn, self._table, dict(row))
        except SQLAlchemyError as exc:
            if not self._failing:
                log.error("served-card audit: could not write %d row(s) (%s); kept to retry",
                          len(batch), type(exc).__name__)
            self._failing = True
            return False
        if self._failing:
            log.warning("served-card audit: writing again after a database failure")
            self._failing = False
        return True

    async def run(self) -> None:
        """Until cancelled: flush (in a worker thread) at least every `flush_seconds`, and as
        soon as a batch is full."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
                self._wake.clear()
                if self._pending:
                    await anyio.to_thread.run_sync(self.flush)
        finally:
            self._loop = self._wake = None
