"""The feedback store: served-card audit, idempotent feedback, the acceptance report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from cds_service.observability.redaction import loggable_id
from cds_service.store.db import init_schema, make_engine
from cds_service.store.feedback_models import FeedbackItem
from cds_service.store.repository import UNKNOWN_RULE, Store
from cds_service.store.tables import Feedback, ServedCard
from tests.store.builders import REASON_SYSTEM, SERVICE, accepted, overridden, rendered


@pytest.fixture
def store(engine: Engine) -> Store:
    return Store(engine)


def test_served_cards_are_recorded_without_phi(store: Store, engine: Engine) -> None:
    cards = [rendered("magnesium-low", "warning"), rendered("statin-myopathy", "critical")]
    store.record_served(SERVICE, "hook-1", cards)

    with engine.connect() as conn:
        rows = conn.execute(select(ServedCard)).mappings().all()
    assert {r["card_uuid"]: r["rule_id"] for r in rows} == {
        cards[0].card.uuid: "magnesium-low", cards[1].card.uuid: "statin-myopathy"
    }
    row = next(r for r in rows if r["rule_id"] == "statin-myopathy")
    # Not a UUID, so caller text: only its digest is stored (as in the log).
    assert row["indicator"] == "critical" and row["hook_instance"] == loggable_id("hook-1")
    assert row["service_id"] == SERVICE and row["card_key"] == "statin-myopathy-card"
    assert row["shown"] is True
    assert set(row.keys()) == {
        "card_uuid", "service_id", "hook_instance", "rule_id", "card_key", "indicator",
        "shown", "served_at",
    }


def test_recording_the_same_cards_twice_is_harmless(store: Store) -> None:
    cards = [rendered("magnesium-low")]
    store.record_served(SERVICE, "hook-1", cards)
    store.record_served(SERVICE, "hook-1", cards)
    assert store.report()[0].served == 1


def test_rule_for_cards_knows_only_served_cards(store: Store) -> None:
    card = rendered("magnesium-low")
    store.record_served(SERVICE, "hook-1", [card])
    assert store.rule_for_cards([card.card.uuid, "never-served"]) == {
        card.card.uuid: "magnesium-low"
    }


def test_repeated_feedback_is_stored_once(store: Store, engine: Engine) -> None:
    card = rendered("magnesium-low")
    store.record_served(SERVICE, "hook-1", [card])
    item = accepted(card.card.uuid)

    first = store.record_feedback(SERVICE, [item])
    again = store.record_feedback(SERVICE, [item])

    assert (first.stored, first.duplicates) == (1, 0)
    assert first.counted == (("magnesium-low", "accepted"),)
    assert (again.stored, again.duplicates, again.counted) == (0, 1, ())
    with engine.connect() as conn:
        assert len(conn.execute(select(Feedback.id)).all()) == 1


def test_a_duplicate_inside_one_post_is_stored_once(store: Store) -> None:
    item = overridden("card-1", code="not-relevant")
    outcome = store.record_feedback(SERVICE, [item, item])
    assert (outcome.stored, outcome.duplicates) == (1, 1)


def test_a_card_may_be_accepted_then_overridden(store: Store, engine: Engine) -> None:
    card = rendered("magnesium-low")
    store.record_served(SERVICE, "hook-1", [card])
    uuid = card.card.uuid

    store.record_feedback(SERVICE, [accepted(uuid, "2026-11-20T10:00:00Z")])
    later = store.record_feedback(SERVICE, [overridden(uuid, "2026-11-20T10:05:00Z", "x")])

    assert later.stored == 1
    with engine.connect() as conn:
        outcomes = conn.execute(select(Feedback.outcome).order_by(Feedback.outcome_at)).scalars()
        assert list(outcomes) == ["accepted", "overridden"]
    row = store.report()[0]
    assert (row.accepted, row.overridden) == (0, 1), "a card counts once, by its latest outcome"


def test_feedback_for_an_unknown_card_is_stored_and_logged(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="cds_service.store"):
        outcome = store.record_feedback(SERVICE, [overridden("who-knows")])

    assert (outcome.stored, outcome.unknown_cards) == (1, 1)
    assert outcome.counted == ((None, "overridden"),)
    # Not a UUID, so possibly free text: logged as a digest, never as sent.
    assert any(getattr(r, "unknown_cards", None) == ["sha256:d5cea16075a4e13f"] for r in caplog.records)
    assert "who-knows" not in caplog.text
    assert [(r.rule_id, r.overridden) for r in store.report()] == [(UNKNOWN_RULE, 1)]


def test_outcome_timestamps_are_stored_as_utc(store: Store, engine: Engine) -> None:
    item = FeedbackItem.model_validate({
        "card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-20T12:00:00+02:00"
    })
    store.record_feedback(SERVICE, [item])
    with engine.connect() as conn:
        stored = conn.execute(select(Feedback.outcome_at)).scalar_one()
    assert stored.replace(tzinfo=UTC) == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_feedback_survives_a_restart(database_url: str) -> None:
    url = database_url
    first = make_engine(url)
    init_schema(first)
    card = rendered("magnesium-low")
    Store(first).record_served(SERVICE, "hook-1", [card])
    Store(first).record_feedback(SERVICE, [accepted(card.card.uuid)])
    first.dispose()

    second = make_engine(url)
    init_schema(second)
    try:
        store = Store(second)
        assert store.rule_for_cards([card.card.uuid]) == {card.card.uuid: "magnesium-low"}
        assert store.record_feedback(SERVICE, [accepted(card.card.uuid)]).duplicates == 1
        row = store.report()[0]
        assert (row.rule_id, row.served, row.accepted) == ("magnesium-low", 1, 1)
    finally:
        second.dispose()


def test_report_counts_and_rates_per_rule(store: Store) -> None:
    mg = [rendered("magnesium-low") for _ in range(4)]
    statin = [rendered("statin-myopathy", "critical") for _ in range(2)]
    store.record_served(SERVICE, "hook-1", mg + statin)
    uuid = [c.card.uuid for c in mg]
    store.record_feedback(SERVICE, [
        accepted(uuid[0]),
        overridden(uuid[1], code="not-relevant"),
        overridden(uuid[2], code="not-relevant", display="Not relevant for this patient"),
        overridden(uuid[3]),  # no reason: the spec allows it
        overridden(statin[0].card.uuid, code="will-monitor"),
    ])

    report = {row.rule_id: row for row in store.report()}

    assert list(report) == ["magnesium-low", "statin-myopathy"], "ordered by rule id"
    mg_row = report["magnesium-low"]
    assert (mg_row.served, mg_row.accepted, mg_row.overridden) == (4, 1, 3)
    assert mg_row.acceptance_rate == pytest.approx(1 / 4)
    assert mg_row.accepted_per_served == pytest.approx(1 / 4)
    assert mg_row.overridden_without_reason == 1
    (reason,) = mg_row.reasons
    assert (reason.system, reason.code, reason.count) == (REASON_SYSTEM, "not-relevant", 2)
    assert reason.display == "Not relevant for this patient", "a display sent once is kept"
    statin_row = report["statin-myopathy"]
    assert (statin_row.served, statin_row.accepted, statin_row.overridden) == (2, 0, 1)
    assert statin_row.acceptance_rate == 0.0 and statin_row.accepted_per_served == 0.0


def test_report_without_feedback_has_no_rates(store: Store) -> None:
    store.record_served(SERVICE, "hook-1", [rendered("magnesium-low")])
    (row,) = store.report()
    assert (row.served, row.acceptance_rate, row.accepted_per_served) == (1, None, 0.0)
    assert row.to_json()["acceptanceRate"] is None


def test_report_fills_missing_displays_from_the_catalog(store: Store) -> None:
    card = rendered("magnesium-low")
    store.record_served(SERVICE, "hook-1", [card])
    store.record_feedback(SERVICE, [overridden(card.card.uuid, code="not-relevant")])
    displays = {(REASON_SYSTEM, "not-relevant"): "Not relevant"}
    (row,) = store.report(reason_displays=displays)
    assert row.reasons[0].label() == "Not relevant"


def test_report_since_leaves_out_older_cards(store: Store, engine: Engine) -> None:
    old, new = rendered("magnesium-low"), rendered("magnesium-low")
    store.record_served(SERVICE, "hook-1", [old])
    with engine.begin() as conn:
        conn.execute(ServedCard.__table__.update().values(
            served_at=datetime.now(UTC) - timedelta(days=30)
        ))
    store.record_served(SERVICE, "hook-2", [new])
    store.record_feedback(SERVICE, [accepted(old.card.uuid), accepted(new.card.uuid)])

    (row,) = store.report(since=datetime.now(UTC) - timedelta(days=7))
    assert (row.served, row.accepted) == (1, 1)
    assert store.report()[0].served == 2
