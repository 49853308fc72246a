"""The served-card audit's batch writer: off the request path, bounded in time and size, and
nothing lost while the database is briefly away."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import Engine, Table, func, select

from cds_service.store.audit import AuditWriter
from cds_service.store.db import init_schema, make_engine
from cds_service.store.repository import Store
from cds_service.store.tables import ServedCard
from tests.store.builders import SERVICE, rendered

TABLE: Table = ServedCard.__table__  # type: ignore[assignment]


def written(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ServedCard)).scalar_one())


def queue(store: Store, cards: int) -> None:
    store.queue_served(SERVICE, "hook-1", [rendered("magnesium-low") for _ in range(cards)])


def test_queueing_writes_nothing_until_a_flush(engine: Engine) -> None:
    store = Store(engine)
    queue(store, 3)
    assert written(engine) == 0 and store.audit.pending == 3
    store.flush_served()
    assert written(engine) == 3 and store.audit.pending == 0


async def test_the_writer_flushes_on_its_time_bound(engine: Engine) -> None:
    store = Store(engine, audit_flush_seconds=0.05, audit_batch_rows=1_000)
    writer = asyncio.create_task(store.audit.run())
    try:
        queue(store, 2)
        for _ in range(100):
            await asyncio.sleep(0.05)
            if written(engine) == 2:
                break
        assert written(engine) == 2
    finally:
        writer.cancel()


async def test_a_full_batch_is_written_at_once(engine: Engine) -> None:
    store = Store(engine, audit_flush_seconds=3_600, audit_batch_rows=4)
    writer = asyncio.create_task(store.audit.run())
    try:
        await asyncio.sleep(0.05)  # the writer is waiting (for an hour, unless woken)
        queue(store, 3)
        await asyncio.sleep(0.3)
        assert written(engine) == 0, "under the batch size: waits for the time bound"
        queue(store, 1)
        for _ in range(100):
            await asyncio.sleep(0.05)
            if written(engine) == 4:
                break
        assert written(engine) == 4
    finally:
        writer.cancel()


def test_rows_are_kept_while_the_database_fails_and_written_when_it_is_back(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cds_service.store.audit")  # "writing again" is INFO
    db = make_engine(database_url)  # no schema yet: every write fails, as with a database down
    try:
        store = Store(db, audit_batch_rows=2)
        queue(store, 3)
        store.flush_served()
        queue(store, 1)
        store.flush_served()
        assert store.audit.pending == 4
        failures = [r for r in caplog.records if "could not write" in r.getMessage()]
        assert len(failures) == 1, "one line per outage, not one per attempt"
        assert "kept to retry" in failures[0].getMessage()

        init_schema(db)  # the database is back
        store.flush_served()
        assert store.audit.pending == 0 and written(db) == 4
        assert "writing again" in caplog.text
    finally:
        db.dispose()


def test_a_retried_batch_does_not_duplicate_rows(engine: Engine) -> None:
    store = Store(engine)
    cards = [rendered("magnesium-low") for _ in range(3)]
    store.record_served(SERVICE, "hook-1", cards[:2])
    store.record_served(SERVICE, "hook-1", cards)  # two already written: no error, no double
    assert written(engine) == 3


def test_the_queue_is_bounded(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    writer = AuditWriter(engine, TABLE, batch_rows=10, max_pending=5)
    rows = [{"card_uuid": f"c{i}"} for i in range(8)]
    writer.add(rows)
    assert writer.pending == 5
    assert "3 queued row(s) dropped" in caplog.text


def test_rows_queued_during_a_flush_wait_for_the_next_one(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Else, under load, each slow commit is followed at once by another and batching stops
    (the benchmark found 5 transactions per flush on PostgreSQL)."""
    store = Store(engine)
    queue(store, 2)
    batches: list[int] = []
    write = store.audit._write

    def write_while_calls_arrive(batch: list[Any]) -> bool:
        batches.append(len(batch))
        queue(store, 1)  # a call answered while the batch is being written
        return write(batch)

    monkeypatch.setattr(store.audit, "_write", write_while_calls_arrive)
    store.flush_served()
    assert batches == [2] and store.audit.pending == 1 and written(engine) == 2


def test_rows_are_built_by_the_writer_with_the_time_of_the_call(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time
    from datetime import UTC, datetime

    from cds_service.store import repository

    store = Store(engine)
    calls: list[str] = []
    monkeypatch.setattr(repository, "loggable_id", lambda value: calls.append(value) or value)
    queued_at = datetime.now(UTC)
    queue(store, 2)
    assert calls == [] and store.audit.pending == 2, "nothing built on the request path"
    time.sleep(0.05)
    store.flush_served()
    assert calls == ["hook-1"]
    with engine.connect() as conn:
        times = conn.execute(select(ServedCard.served_at)).scalars().all()
    assert len(times) == 2
    assert all(abs((repository.utc(t) - queued_at).total_seconds()) < 0.04 for t in times)


def test_the_bound_drops_part_of_a_queued_call(engine: Engine) -> None:
    store = Store(engine)
    store.audit._max_pending = 4
    queue(store, 3)
    queue(store, 3)
    assert store.audit.pending == 4
    store.flush_served()
    assert written(engine) == 4
