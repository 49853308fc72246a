"""Schema migrations: an empty database and one made by release 0.1.0 both reach head, with
every feedback row intact, at start-up or with `cds-service db upgrade`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

import cds_service.store.tables  # noqa: F401  (registers the models)
from cds_service.cli import cli
from cds_service.store.db import Base, DatabaseUnusable, make_engine, open_database
from cds_service.store.schema import HEAD, head, schema_state
from cds_service.store.tables import Feedback, ServedCard
from tests.store import release_0_1


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    db = make_engine(database_url)
    yield db
    db.dispose()


def differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match the models."""
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def rows(engine: Engine, table: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(select(table)).mappings().all()
    return sorted((dict(row) for row in found), key=lambda row: sorted(map(str, row.values())))


def test_an_empty_database_upgrades_to_head_matching_the_models(
    engine: Engine, database_url: str
) -> None:
    assert not schema_state(engine).at_head
    open_database(database_url).dispose()  # what start-up does
    assert schema_state(engine).current == head()
    assert differences(engine) == []


def test_a_release_0_1_database_upgrades_with_every_feedback_row_intact(
    engine: Engine, database_url: str
) -> None:
    release_0_1.create_populated(engine)
    old_feedback = rows(engine, release_0_1.feedback)
    old_served = rows(engine, release_0_1.served_cards)
    old_jwt = rows(engine, release_0_1.seen_jwt)
    assert len(old_feedback) > 40
    state = schema_state(engine)
    assert (state.current, state.tables) == (None, {"served_cards", "feedback", "seen_jwt"})

    open_database(database_url).dispose()

    assert schema_state(engine).at_head and differences(engine) == []
    new_feedback = rows(engine, Feedback.__table__)
    rules = {row["card_uuid"]: row["rule_id"] for row in old_served}
    assert [{k: v for k, v in row.items() if k != "rule_id"} for row in new_feedback] == [
        {k: v for k, v in row.items()} for row in old_feedback
    ], "every feedback row, every column, unchanged"
    assert [row["rule_id"] for row in new_feedback] == [
        rules.get(row["card_uuid"]) for row in old_feedback
    ], "each feedback row learnt its rule from the audit (None for the never-served card)"
    new_served = rows(engine, ServedCard.__table__)
    assert [{k: row[k] for k in old_served[0]} for row in new_served] == old_served
    assert {(row["shown"], row["card_key"]) for row in new_served} == {(True, None)}
    assert rows(engine, release_0_1.seen_jwt) == old_jwt


def test_a_second_start_changes_nothing(engine: Engine, database_url: str) -> None:
    open_database(database_url).dispose()
    with engine.connect() as conn:
        before = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    open_database(database_url).dispose()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == before


def test_replicas_starting_together_migrate_once(engine: Engine, database_url: str) -> None:
    release_0_1.create_populated(engine, cards=10)
    with ThreadPoolExecutor(4) as pool:
        engines = list(pool.map(lambda _: open_database(database_url), range(4)))
    for each in engines:
        each.dispose()
    assert schema_state(engine).at_head and differences(engine) == []


def test_with_start_up_migration_off_an_old_schema_stops_start_up(
    engine: Engine, database_url: str
) -> None:
    release_0_1.create_populated(engine, cards=3)
    with pytest.raises(DatabaseUnusable, match=r"release 0\.1\.0's.*run `cds-service db upgrade`"):
        open_database(database_url, migrate=False)
    assert schema_state(engine).current is None, "nothing was changed"


def test_a_database_newer_than_this_release_is_used_with_a_warning(
    engine: Engine, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    open_database(database_url).dispose()
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'r9999'"))
    open_database(database_url).dispose()
    assert "newer than this release" in caplog.text
    assert schema_state(engine).current == "r9999", "left as it is"


def test_db_upgrade_and_status_commands(engine: Engine, database_url: str) -> None:
    release_0_1.create_populated(engine, cards=6)
    runner = CliRunner()

    status = runner.invoke(cli, ["db", "status", "--database-url", database_url])
    assert status.exit_code == 1 and "release 0.1.0's" in status.output

    upgraded = runner.invoke(cli, ["db", "upgrade", "--database-url", database_url])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"upgraded to {head()}" in upgraded.output

    again = runner.invoke(cli, ["db", "upgrade", "--database-url", database_url])
    assert again.exit_code == 0 and "nothing to do" in again.output
    status = runner.invoke(cli, ["db", "status", "--database-url", database_url])
    assert status.exit_code == 0 and f"at head ({head()})" in status.output
    assert len(rows(engine, Feedback.__table__)) == len(rows(engine, release_0_1.feedback))


def test_the_recorded_head_is_the_migrations_head() -> None:
    """`schema.HEAD` lets a start on a schema at head skip Alembic: it must name the head."""
    assert head() == HEAD


def test_a_start_on_a_schema_at_head_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/at-head.db"
    open_database(url).dispose()  # migrates (Alembic runs)
    code = (
        "import sys\n"
        "from cds_service.store.db import open_database\n"
        f"open_database({url!r}).dispose()\n"
        "assert 'alembic' not in sys.modules, 'Alembic was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
