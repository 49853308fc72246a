"""Issue 14, item 4: under overload, accepted calls stay fast and the excess is refused at once
with 503, `Retry-After` and an OperationOutcome, counted in /metrics; health never waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cds_service.api import services
from cds_service.api.admission import Admission
from cds_service.app import create_app
from cds_service.settings import Settings
from tests.builders import hook_request, medication_request, service_url


async def test_admission_runs_the_limit_queues_briefly_and_refuses_the_rest() -> None:
    admission = Admission(max_concurrent=2, max_queued=1, queue_timeout=0.2)
    assert await admission.acquire() and await admission.acquire()
    queued = asyncio.create_task(admission.acquire())
    await asyncio.sleep(0)
    assert admission.queued == 1
    started = time.perf_counter()
    assert not await admission.acquire(), "queue full: refused at once"
    assert time.perf_counter() - started < 0.05
    admission.release()  # the slot goes to the queued call
    assert await queued
    assert admission.in_flight == 2 and admission.queued == 0
    waited = asyncio.create_task(admission.acquire())
    assert not await waited, "no slot within the queue timeout"
    assert admission.stats.shed_queue_full == 1 and admission.stats.shed_queue_timeout == 1
    admission.release()
    admission.release()
    assert admission.in_flight == 0


async def test_a_cancelled_waiter_gives_its_slot_on() -> None:
    admission = Admission(max_concurrent=1, max_queued=5, queue_timeout=5)
    assert await admission.acquire()
    first = asyncio.create_task(admission.acquire())
    second = asyncio.create_task(admission.acquire())
    await asyncio.sleep(0)
    first.cancel()
    admission.release()
    assert await second
    assert admission.in_flight == 1


@pytest.fixture
def slow_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each hook call spends 0.2 s (waiting, as on a FHIR server) before answering."""
    real = services.answer_call

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.2)
        return await real(*args, **kwargs)

    monkeypatch.setattr(services, "answer_call", slow)


async def test_excess_calls_get_503_quickly_while_accepted_ones_answer(
    settings_factory: Callable[..., Settings], slow_pipeline: None
) -> None:
    settings = settings_factory(max_concurrent_calls=2, max_queued_calls=2, queue_timeout_seconds=0.05)
    app = create_app(settings)
    body = hook_request("order-sign", drafts=[medication_request("9071", "quinine sulfate 324 MG")])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:

        async def call() -> tuple[httpx.Response, float]:
            started = time.perf_counter()
            response = await http.post(service_url("order-sign"), json=body, headers={"Origin": "https://sandbox.cds-hooks.org"})
            return response, time.perf_counter() - started

        async def health() -> float:
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            assert (await http.get("/health/live")).status_code == 200
            return time.perf_counter() - started

        *calls, health_seconds = await asyncio.gather(*(call() for _ in range(10)), health())
        metrics = (await http.get("/metrics")).text
    ok = [seconds for response, seconds in calls if response.status_code == 200]
    shed = [(response, seconds) for response, seconds in calls if response.status_code == 503]
    assert len(ok) == 2 and len(shed) == 8
    for response, seconds in shed:
        assert seconds < 0.15, "refused at once (or after the short queue wait)"
        assert response.headers["retry-after"] == "1"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["access-control-allow-origin"] == "https://sandbox.cds-hooks.org"
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["details"]["coding"][0]["code"] == "overloaded"
    assert health_seconds < 0.1
    assert 'cds_calls_shed_total{reason="queue_full"} 6.0' in metrics
    assert 'cds_calls_shed_total{reason="queue_timeout"} 2.0' in metrics
    assert "cds_calls_in_flight 0.0" in metrics


def test_a_flood_of_refusals_is_logged_as_a_few_lines(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from cds_service.observability.limits import LimitLog

    now = [0.0]
    limit_log = LimitLog(logging.getLogger("test.limits"), interval=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.limits"):
        for second in range(25):
            now[0] = float(second)
            for _ in range(100):
                limit_log.bit("overload: call refused (503)")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "overload: call refused (503)",
        "overload: call refused (503) (and 999 more since the last report)",
        "overload: call refused (503) (and 999 more since the last report)",
    ]
