"""`serve --workers 2`: every call is counted once in /metrics, whichever worker answered it
and whichever worker answers the scrape (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx

from tests.store.servers import ORDER_SELECT, REQUEST, start

CALLS = 60  # per round; rounds go on until both workers have answered some


def samples(exposition: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of `name`: its labels (in any order) and value."""
    found = []
    for labels, value in re.findall(rf"^{name}{{([^}}]*)}} (\S+)$", exposition, re.MULTILINE):
        found.append((dict(re.findall(r'(\w+)="([^"]*)"', labels)), float(value)))
    return found


def sample(exposition: str, name: str, **labels: str) -> float:
    """One sample's value; 0 when absent."""
    return sum(value for shown, value in samples(exposition, name) if shown == labels)


def total(exposition: str, name: str) -> float:
    return sum(value for _, value in samples(exposition, name))


def test_two_workers_count_every_call_once(tmp_path: Path) -> None:
    env = {"CDS_PROFILE": "development", "CDS_AUTH_REQUIRED": "false",
           "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'cds.db'}"}
    server = start(tmp_path, env, workers=2)
    ok = cards = bad = unknown = 0
    pids: set[str] = set()
    try:
        while len(pids) < 2 and ok < 20 * CALLS:
            for _ in range(CALLS):
                with httpx.Client() as fresh:  # a new connection: either worker may take it
                    body = REQUEST | {"hookInstance": str(uuid.uuid4())}
                    answer = fresh.post(server.url + ORDER_SELECT, json=body)
                    assert answer.status_code == 200, answer.text
                    ok += 1
                    cards += len(answer.json()["cards"])
                    if ok % 10 == 0:
                        assert fresh.post(server.url + ORDER_SELECT, json={}).status_code == 400
                        bad += 1
                        assert fresh.post(server.url + "/cds-services/nope",
                                          json=body).status_code == 404
                        unknown += 1
            pids = {p.name.split("_")[1] for p in tmp_path.glob("cds-metrics-*/counter_*.db")}
        assert len(pids) == 2, "both workers answered calls"
        assert cards > 0

        service = "muscle-cramps-order-select"
        for _ in range(6):  # whichever worker answers the scrape, it reports every call
            with httpx.Client() as fresh:
                text = fresh.get(server.url + "/metrics").text
            assert sample(text, "cds_hook_calls_total", service=service, status="200") == ok
            assert sample(text, "cds_hook_calls_total", service=service, status="400") == bad
            assert sample(text, "cds_hook_calls_total", service="unknown", status="404") == unknown
            assert sample(text, "cds_hook_call_duration_seconds_count",
                          service=service, status="200") == ok
            assert sample(text, "cds_hook_call_duration_seconds_bucket",
                          service=service, status="200", le="+Inf") == ok
            assert sample(text, "cds_hook_call_duration_seconds_sum",
                          service=service, status="200") > 0
            assert total(text, "cds_cards_total") == cards
            assert sample(text, "cds_prefetch_keys_total", key="patient",
                          outcome="supplied") == ok
            assert text.count("# TYPE cds_hook_calls_total counter") == 1
    finally:
        assert server.stopped_gracefully()
    assert not list(tmp_path.glob("cds-metrics-*")), "the metrics directory is removed"
