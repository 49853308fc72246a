"""Graceful shutdown loses nothing: SIGTERM to a loaded `cds-service serve` stops it
accepting, lets in-flight calls finish, and writes the served-card audit batch still queued."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select

from cds_service.store.db import make_engine
from cds_service.store.tables import ServedCard
from tests.store.servers import ORDER_SELECT, REQUEST, start


def test_sigterm_under_load_keeps_every_answered_calls_audit(
    tmp_path: Path, database_url: str
) -> None:
    server = start(tmp_path, {
        "CDS_PROFILE": "development",
        "CDS_AUTH_REQUIRED": "false",
        "CDS_DATABASE_URL": database_url,
        # Nothing is written before shutdown: what is found afterwards, the shutdown wrote.
        "CDS_AUDIT_FLUSH_SECONDS": "60",
        "CDS_AUDIT_BATCH_ROWS": "100000",
    })
    answered: list[str] = []
    statuses: list[int] = []
    signalled = threading.Event()

    def load() -> None:
        while True:
            body = REQUEST | {"hookInstance": str(uuid.uuid4())}
            try:
                # A connection per call: after SIGTERM a new one is refused, cleanly.
                response = httpx.post(server.url + ORDER_SELECT, json=body, timeout=60,
                                      headers={"Connection": "close"})
            except httpx.TransportError:
                if signalled.is_set():
                    return
                raise
            statuses.append(response.status_code)
            if response.status_code == 200:
                answered.extend(card["uuid"] for card in response.json()["cards"])

    threads = [threading.Thread(target=load, daemon=True) for _ in range(6)]
    for thread in threads:
        thread.start()
    engine = make_engine(database_url)
    try:
        deadline = time.monotonic() + 60
        while len(answered) < 2 * 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(ServedCard)).scalar_one() == 0
        signalled.set()
        server.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(60)
        assert server.stopped_gracefully(), server.log.read_text()[-3000:]

        assert set(statuses) == {200}, "no call failed mid-way"
        with engine.connect() as conn:
            stored = set(conn.execute(select(ServedCard.card_uuid)).scalars())
        missing = set(answered) - stored
        assert not missing, f"{len(missing)} of {len(answered)} answered cards not audited"
        assert len(answered) >= 80
    finally:
        engine.dispose()
        server.stop(signal.SIGKILL)
