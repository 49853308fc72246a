"""The database goes down: hook calls and feedback fail closed with 503 and an
OperationOutcome saying the service is unavailable, in one log line, never 401 or a traceback."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey
from sqlalchemy import text

from tests.conftest import make_settings
from tests.databases import _admin_engine, require_postgres, scratch_postgres
from tests.security.helpers import claims, mint, public_jwks
from tests.store.servers import ISSUER, REQUEST

ORDER_SELECT = "/cds-services/muscle-cramps-order-select"
SECRET_JTI = "jti-that-must-not-be-logged"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def outage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Callable[[], None]]]:
    """A database URL, and how to take that database away while the service runs."""
    if request.param == "sqlite":
        directory = tmp_path / "data"
        directory.mkdir()
        yield f"sqlite:///{directory}/cds.db", lambda: shutil.rmtree(directory)
        return
    require_postgres()
    with scratch_postgres() as url:
        name = url.rsplit("/", 1)[1]

        def drop() -> None:
            admin = _admin_engine()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()

        yield url, drop


@pytest.fixture
def key() -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": "down-test"})


def failed_closed(response: httpx.Response, caplog: pytest.LogCaptureFixture) -> None:
    assert response.status_code == 503
    body = response.json()
    issue = body["issue"][0]
    assert body["resourceType"] == "OperationOutcome" and issue["code"] == "transient"
    assert issue["details"]["coding"][0]["code"] == "unavailable"
    assert "unavailable" in issue["details"]["text"]
    # One line says why; the other is the usual per-call line (`hook_call`, status 503).
    problems = [r for r in caplog.records
                if r.levelno >= logging.WARNING and r.name != "cds_service.calls"]
    assert len(problems) == 1, [r.getMessage() for r in problems]
    assert problems[0].exc_info is None and "Traceback" not in caplog.text
    assert SECRET_JTI not in caplog.text


def test_a_hook_call_fails_closed_with_503(
    client_factory: Callable[..., TestClient],
    tmp_path: Path,
    key: ECKey,
    outage: tuple[str, Callable[[], None]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, take_down = outage
    (tmp_path / "ehr.jwks.json").write_text(json.dumps(public_jwks(key)))
    trust = tmp_path / "trust.toml"
    trust.write_text(f'[[clients]]\niss = "{ISSUER}"\njwks_file = "ehr.jwks.json"\n')
    client = client_factory(make_settings(
        tmp_path, database_url=url, auth_required=True, trust_file=trust, profile="production"
    ))
    aud = "http://testserver" + ORDER_SELECT

    def call(jti: str) -> httpx.Response:
        token = mint(key, claims(iss=ISSUER, aud=aud, jti=jti), kid=key.kid)
        return client.post(ORDER_SELECT, json=REQUEST, headers={"Authorization": f"Bearer {token}"})

    assert call("before").status_code == 200
    store = client.app.state.cds.store  # type: ignore[attr-defined]
    store.flush_served()  # the audit's own outage line is not this test's subject
    store.engine.dispose()
    take_down()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        failed_closed(call(SECRET_JTI), caplog)
    assert any("replay store unavailable" in r.getMessage() for r in caplog.records)


def test_feedback_fails_closed_with_503(
    client_factory: Callable[..., TestClient],
    tmp_path: Path,
    outage: tuple[str, Callable[[], None]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, take_down = outage
    client = client_factory(make_settings(tmp_path, database_url=url))
    cards = client.post(ORDER_SELECT, json=REQUEST).json()["cards"]
    store = client.app.state.cds.store  # type: ignore[attr-defined]
    store.flush_served()  # the audit's own outage line is not this test's subject
    store.engine.dispose()
    take_down()
    caplog.clear()
    item = {"card": cards[0]["uuid"], "outcome": "overridden",
            "outcomeTimestamp": "2026-11-25T10:00:00Z"}
    with caplog.at_level(logging.INFO):
        response = client.post(ORDER_SELECT + "/feedback", json={"feedback": [item]})
        failed_closed(response, caplog)
