"""`cds-service report`: the per-rule acceptance table and its JSON form."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cds_service.commands.report import parse_since, report
from cds_service.observability.redaction import loggable_id
from cds_service.store.db import init_schema, make_engine
from cds_service.store.export import FIELDS
from cds_service.store.feedback_models import FeedbackItem
from cds_service.store.repository import Store
from tests.store import release_0_1
from tests.store.builders import SERVICE, accepted, overridden, rendered

app = typer.Typer()
app.command()(report)
app.command("noop")(lambda: None)  # two commands, so `report` is a sub-command as in cli.py


@pytest.fixture
def database(database_url: str) -> str:
    url = database_url
    engine = make_engine(url)
    init_schema(engine)
    store = Store(engine)
    cards = [rendered("magnesium-low") for _ in range(3)] + [rendered("statin-myopathy")]
    store.record_served(SERVICE, "hook-1", cards)
    items: list[FeedbackItem] = [
        accepted(cards[0].card.uuid),
        overridden(cards[1].card.uuid, code="not-relevant"),
        overridden(cards[3].card.uuid),
    ]
    store.record_feedback(SERVICE, items)
    engine.dispose()
    return url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["report", *args])
    return result.exit_code, result.output


def test_the_table_shows_each_rule(database: str) -> None:
    code, output = run("--database-url", database)
    assert code == 0, output
    assert "magnesium-low" in output and "statin-myopathy" in output
    assert "50%" in output, "magnesium-low: 1 accepted of 2 answered"
    assert "not-relevant ×1" in output and "(no reason) ×1" in output


def test_json_output(database: str) -> None:
    code, output = run("--database-url", database, "--json", "--since", "2000-01-01")
    assert code == 0, output
    body = json.loads(output)
    assert body["since"] == "2000-01-01T00:00:00+00:00"
    rules = {row["rule"]: row for row in body["rules"]}
    assert rules["magnesium-low"] | {"overrideReasons": None} == {
        "rule": "magnesium-low", "served": 3, "silent": 0, "accepted": 1, "overridden": 1,
        "acceptanceRate": 0.5, "acceptedPerServed": pytest.approx(1 / 3),
        "overriddenWithoutReason": 0, "overrideReasons": None,
    }
    assert rules["magnesium-low"]["overrideReasons"][0]["code"] == "not-relevant"


def test_since_in_the_future_reports_nothing(database: str) -> None:
    code, output = run("--database-url", database, "--json", "--since", "2999-01-01")
    assert code == 0 and json.loads(output)["rules"] == []


def test_a_bad_since_date_is_a_usage_error(database: str) -> None:
    code, output = run("--database-url", database, "--since", "last tuesday")
    assert code == 2 and "--since" in output


def test_a_missing_sqlite_file_is_an_error_not_an_empty_report(tmp_path: Path) -> None:
    code, output = run("--database-url", f"sqlite:///{tmp_path}/nothing-here.db")
    assert code == 1 and "No database" in output
    assert not (tmp_path / "nothing-here.db").exists()


def test_the_database_url_comes_from_settings_by_default(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDS_DATABASE_URL", database)
    code, output = run("--json")
    assert code == 0 and len(json.loads(output)["rules"]) == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01T12:00:00", datetime(2026, 11, 1, 12, tzinfo=UTC)),
    ("2026-11-01T12:00:00+02:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
])
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text) == expected


def test_a_database_url_that_is_not_one_is_a_configuration_error() -> None:
    code, output = run("--database-url", "not-a-url")
    assert code == 2 and "Invalid configuration: CDS_DATABASE_URL" in output


def test_csv_export_has_one_row_per_feedback_item(database: str) -> None:
    code, output = run("--database-url", database, "--format", "csv")
    assert code == 0, output
    rows = list(csv.DictReader(io.StringIO(output)))
    assert list(rows[0]) == list(FIELDS)
    assert len(rows) == 3
    by_outcome = {(row["rule"], row["outcome"], row["override_code"]) for row in rows}
    assert by_outcome == {
        ("magnesium-low", "accepted", ""),
        ("magnesium-low", "overridden", "not-relevant"),
        ("statin-myopathy", "overridden", ""),
    }
    accepted_row = next(row for row in rows if row["outcome"] == "accepted")
    assert accepted_row["hook"] == "order-sign" and accepted_row["service"] == SERVICE
    assert accepted_row["card_key"] == "magnesium-low-card"
    assert accepted_row["accepted_suggestions"] == loggable_id("s-1"), "stored as the log has it"
    assert accepted_row["outcome_at"] == "2026-11-20T10:00:00Z"


def test_ndjson_export_leaves_out_free_text_comments(database_url: str) -> None:
    engine = make_engine(database_url)
    init_schema(engine)
    store = Store(engine)
    card = rendered("magnesium-low")
    store.record_served(SERVICE, "hook-1", [card])
    store.record_feedback(SERVICE, [FeedbackItem.model_validate({
        "card": card.card.uuid, "outcome": "overridden", "outcomeTimestamp": "2026-11-21T09:00:00Z",
        "overrideReason": {"reason": {"code": "other"}, "userComment": "PATIENT SAID SOMETHING"},
    })])
    engine.dispose()

    code, output = run("--database-url", database_url, "--format", "ndjson", "--since", "2026-11-21")
    assert code == 0, output
    (line,) = output.splitlines()
    record = json.loads(line)
    assert record["rule"] == "magnesium-low" and record["override_code"] == "other"
    assert record["accepted_suggestions"] == [] and record["hook"] == "order-sign"
    assert "PATIENT" not in output


def test_silent_firings_are_counted_next_to_shown_ones(database_url: str) -> None:
    engine = make_engine(database_url)
    init_schema(engine)
    Store(engine).record_served(
        SERVICE, "hook-1", [rendered("magnesium-low")],
        silent=[rendered("new-rule"), rendered("new-rule"), rendered("magnesium-low")],
    )
    engine.dispose()
    code, output = run("--database-url", database_url, "--json")
    assert code == 0, output
    rules = {row["rule"]: (row["served"], row["silent"]) for row in json.loads(output)["rules"]}
    assert rules == {"magnesium-low": (1, 1), "new-rule": (0, 2)}
    code, table = run("--database-url", database_url)
    assert "Silent" in table and "new-rule" in table


def test_a_report_does_not_upgrade_an_old_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    release_0_1.create_populated(engine, cards=3)
    engine.dispose()
    code, output = run("--database-url", database_url)
    assert code == 2 and "cds-service db upgrade" in output


def test_csv_cells_a_spreadsheet_would_run_are_made_inert(database_url: str) -> None:
    engine = make_engine(database_url)
    init_schema(engine)
    Store(engine).record_feedback(SERVICE, [FeedbackItem.model_validate({
        "card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-21T09:00:00Z",
        "overrideReason": {"reason": {"code": "=HYPERLINK(\"http://x\")", "display": "@SUM(1)"}},
    })])
    engine.dispose()
    code, output = run("--database-url", database_url, "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(output)))
    assert row["override_code"] == "'=HYPERLINK(\"http://x\")"
    assert row["override_display"] == "'@SUM(1)" and row["card"] == loggable_id("c-1")
