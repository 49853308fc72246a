"""Retention: served-card audit rows past the retention age and expired JWT ids are deleted in
batches, off the request path; feedback is kept, and still names its rule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select, update
from typer.testing import CliRunner

from cds_service.cli import cli
from cds_service.security.replay import ReplayStore
from cds_service.store.repository import UNKNOWN_RULE, Store
from cds_service.store.retention import Retention
from cds_service.store.tables import Feedback, SeenJwt, ServedCard
from tests.store.builders import SERVICE, accepted, overridden, rendered


def count(engine: Engine, model: type[object]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def served_days_ago(store: Store, engine: Engine, days: float, rule: str = "old-rule") -> str:
    now = datetime.now(UTC)
    card = rendered(rule)
    store.record_served(SERVICE, "hook", [card])
    assert card.card.uuid is not None
    with engine.begin() as conn:
        conn.execute(update(ServedCard).where(ServedCard.card_uuid == card.card.uuid)
                     .values(served_at=now - timedelta(days=days)))
    return card.card.uuid


def test_old_audit_rows_and_expired_jwt_ids_go_feedback_stays(engine: Engine) -> None:
    store = Store(engine)
    old = [served_days_ago(store, engine, days) for days in (401, 450, 500, 900, 3_000)]
    kept = [served_days_ago(store, engine, days, "new-rule") for days in (0, 10, 399)]
    store.record_feedback(SERVICE, [accepted(old[0]), overridden(kept[0], code="x")])
    now = datetime.now(UTC)
    replay = ReplayStore(engine)
    replay.remember("iss", "expired-1", now - timedelta(seconds=5))
    replay.remember("iss", "expired-2", now - timedelta(days=3))
    replay.remember("iss", "live", now + timedelta(minutes=5))

    pruned = Retention(engine, audit_days=400, batch_rows=2, pause_seconds=0).prune()

    assert (pruned.audit_rows, pruned.jwt_ids) == (5, 2), "three batches of at most two"
    with engine.connect() as conn:
        left = set(conn.execute(select(ServedCard.card_uuid)).scalars())
        rules = dict(conn.execute(select(Feedback.card_uuid, Feedback.rule_id)).all())
    assert left == set(kept)
    assert count(engine, Feedback) == 2 and rules[old[0]] == "old-rule"
    assert count(engine, SeenJwt) == 1
    assert replay.remember("iss", "live", now + timedelta(minutes=5)) is False

    # The table covers the retention period: a pruned card's feedback is not "(unknown)".
    assert [row.rule_id for row in store.report()] == ["new-rule"]
    assert UNKNOWN_RULE not in {row.rule_id for row in store.report()}
    assert {r.rule for r in store.export()} == {"old-rule", "new-rule"}, "the export keeps it"


def test_nothing_to_prune_is_cheap_and_harmless(engine: Engine) -> None:
    assert Retention(engine).prune().audit_rows == 0


async def test_the_background_task_prunes(engine: Engine) -> None:
    store = Store(engine)
    served_days_ago(store, engine, 500)
    task = asyncio.create_task(Retention(engine).run(interval=3_600, first_after=0))
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if count(engine, ServedCard) == 0:
                break
        assert count(engine, ServedCard) == 0
    finally:
        task.cancel()


def test_db_prune_command(engine: Engine, database_url: str) -> None:
    store = Store(engine)
    served_days_ago(store, engine, 40)
    served_days_ago(store, engine, 20)
    result = CliRunner().invoke(
        cli, ["db", "prune", "--database-url", database_url, "--older-than-days", "30"]
    )
    assert result.exit_code == 0, result.output
    assert "deleted 1 served-card row(s) older than 30 days" in result.output
    assert count(engine, ServedCard) == 1
