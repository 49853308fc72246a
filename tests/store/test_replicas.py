"""Replicas: two `cds-service serve` processes on one PostgreSQL database, as behind a load
balancer, and one process with two workers. What one replica has seen, the other knows."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import ECKey
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from cds_service.cli import cli
from cds_service.store.tables import Feedback
from tests.store.servers import (
    ORDER_SELECT,
    REQUEST,
    Server,
    authenticated_env,
    bearer,
    launch,
    start,
    token,
    wait_ready,
)

FEEDBACK = ORDER_SELECT + "/feedback"


@pytest.fixture(scope="module")
def key() -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": "replica-test"})


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str, key: ECKey) -> Iterator[tuple[Server, Server]]:
    env = authenticated_env(tmp_path, key, postgres_url)
    first, second = launch(tmp_path, env, name="a"), launch(tmp_path, env, name="b")
    try:
        wait_ready(first, second)
        yield first, second
    finally:
        first.stop()
        second.stop()


def call(server: Server, key: ECKey) -> list[str]:
    response = httpx.post(server.url + ORDER_SELECT, json=REQUEST,
                          headers=bearer(token(key, ORDER_SELECT)), timeout=30)
    assert response.status_code == 200, response.text
    return [card["uuid"] for card in response.json()["cards"]]


def test_replicas_share_replay_feedback_and_audit(
    replicas: tuple[Server, Server], key: ECKey, postgres_url: str
) -> None:
    a, b = replicas

    # A token used on one replica is refused on the other (jti, in the shared database).
    once = token(key, ORDER_SELECT)
    assert httpx.post(a.url + ORDER_SELECT, json=REQUEST, headers=bearer(once)).status_code == 200
    refused = httpx.post(b.url + ORDER_SELECT, json=REQUEST, headers=bearer(once))
    assert refused.status_code == 401

    served = call(a, key) + call(a, key) + call(b, key)
    assert len(served) == 6

    # The same feedback sent to both replicas (an EHR retrying through the balancer).
    item = {"card": served[-1], "outcome": "overridden",
            "outcomeTimestamp": "2026-11-25T10:00:00Z",
            "overrideReason": {"reason": {"code": "documented-indication"}}}
    for replica in (a, b):
        sent = httpx.post(replica.url + FEEDBACK, json={"feedback": [item]},
                          headers=bearer(token(key, FEEDBACK)))
        assert sent.status_code == 200, sent.text
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Feedback)).scalar_one() == 1
    finally:
        engine.dispose()

    # Both replicas' served-card audits in one report (a stop flushes each one's batch).
    assert a.stopped_gracefully() and b.stopped_gracefully()
    result = CliRunner().invoke(cli, ["report", "--json", "--database-url", postgres_url])
    assert result.exit_code == 0, result.output
    rules = json.loads(result.output)["rules"]
    assert sum(row["served"] for row in rules) == 6 + 2, "both replicas, and the first call"
    assert sum(row["overridden"] for row in rules) == 1


def test_metrics_count_every_call_once_with_two_workers(tmp_path: Path, postgres_url: str) -> None:
    env = {"CDS_PROFILE": "development", "CDS_AUTH_REQUIRED": "false",
           "CDS_DATABASE_URL": postgres_url}
    server = start(tmp_path, env, workers=2)
    try:
        calls = 0
        # New connections spread over both workers; keep calling until each has answered some.
        while calls < 400:
            for _ in range(20):
                with httpx.Client() as fresh:
                    body = REQUEST | {"hookInstance": str(uuid.uuid4())}
                    assert fresh.post(server.url + ORDER_SELECT, json=body).status_code == 200
                calls += 1
            if len(counter_files(tmp_path)) == 2:
                break
        assert len(counter_files(tmp_path)) == 2, "both workers answered calls"
        for _ in range(6):  # whichever worker answers the scrape, it reports every call
            with httpx.Client() as fresh:
                scraped = fresh.get(server.url + "/metrics").text
            assert hook_calls(scraped) == calls
    finally:
        assert server.stopped_gracefully()
    assert not list(tmp_path.glob("cds-metrics-*")), "the metrics directory is removed"


def counter_files(tmp_path: Path) -> list[Path]:
    """Multiprocess mode writes one counter file per worker process that counted something."""
    return [path for path in tmp_path.glob("cds-metrics-*/counter_*.db")
            if path.stat().st_size > 0]


def hook_calls(exposition: str) -> int:
    found = re.search(
        r'^cds_hook_calls_total\{service="muscle-cramps-order-select",status="200"\} (\S+)$',
        exposition, re.MULTILINE,
    )
    assert found, exposition
    return int(float(found.group(1)))
