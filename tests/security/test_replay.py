"""ReplayStore: first use wins, across store instances (workers) sharing the database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from cds_service.security.replay import ReplayStore, replay_key
from cds_service.store.db import init_schema, make_engine
from cds_service.store.tables import SeenJwt


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    """Every replay test runs on SQLite and on PostgreSQL (overrides the security conftest's)."""
    engine = make_engine(database_url)
    init_schema(engine)
    yield engine
    engine.dispose()


def later(seconds: float = 300) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(SeenJwt)).scalar_one())


def test_first_use_wins(replay: ReplayStore) -> None:
    assert replay.remember("iss", "jti-1", later()) is True
    assert replay.remember("iss", "jti-1", later()) is False
    assert replay.remember("other-iss", "jti-1", later()) is True
    assert replay.remember("iss", "jti-2", later()) is True


def test_shared_across_workers(database_url: str) -> None:
    first, second = make_engine(database_url), make_engine(database_url)
    try:
        init_schema(first)
        assert ReplayStore(first).remember("iss", "j", later()) is True
        assert ReplayStore(second).remember("iss", "j", later()) is False
    finally:
        first.dispose()
        second.dispose()


def test_concurrent_inserts_one_winner(replay: ReplayStore) -> None:
    until = later()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: replay.remember("iss", "race", until), range(16)))
    assert results.count(True) == 1


def test_stores_a_hash_not_the_claims(replay: ReplayStore, db: Engine) -> None:
    replay.remember("https://ehr.example.org", "secret-ish-jti", later())
    with db.connect() as conn:
        keys = conn.execute(select(SeenJwt.key)).scalars().all()
    assert keys == [replay_key("https://ehr.example.org", "secret-ish-jti")]
    assert len(keys[0]) == 64 and "secret" not in keys[0]


def test_an_expired_record_may_be_reused(replay: ReplayStore) -> None:
    assert replay.remember("iss", "j", datetime.now(UTC) - timedelta(seconds=1)) is True
    assert replay.remember("iss", "j", later()) is True  # old record had expired
    assert replay.remember("iss", "j", later()) is False


def test_prune_removes_only_expired(replay: ReplayStore, db: Engine) -> None:
    replay.remember("iss", "old", datetime.now(UTC) - timedelta(seconds=10))
    replay.remember("iss", "live", later())
    assert replay.prune() == 1
    assert count(db) == 1


def test_pruning_runs_at_most_every_interval(db: Engine) -> None:
    now = [time.time()]
    store = ReplayStore(db, prune_interval=300, clock=lambda: now[0])
    store.remember("iss", "a", datetime.now(UTC) - timedelta(seconds=10))  # prunes (first call)
    store.remember("iss", "b", datetime.now(UTC) - timedelta(seconds=10))
    assert count(db) == 2  # inside the interval: no prune
    now[0] += 301
    store.remember("iss", "c", later())
    assert count(db) == 1
