"""Admission control: under overload, keep accepted calls fast and refuse the rest at once.

A card that arrives after the clinician moved on is worth nothing (CDS Hooks asks for answers
in about 500 ms). One process answers hook calls one CPU at a time, so letting every waiting
call in only makes all of them slow. At most `max_concurrent` hook and feedback calls run at
once; up to `max_queued` more wait, each at most `queue_timeout` seconds, first come first
served; the rest get `503` with `Retry-After` and an OperationOutcome straight away. Health,
metrics, discovery and CORS preflights are never held back.

The check runs before authentication, so refusing costs no signature check or database write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from cds_service.api.errors import operation_outcome
from cds_service.observability.limits import LimitLog

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
_BUSY_TEXT = "The service is at capacity; retry after a second."


@dataclass(slots=True)
class AdmissionStats:
    """Counters for /metrics: plain integers, read at scrape time."""

    admitted: int = 0
    queued_then_admitted: int = 0
    shed_queue_full: int = 0
    shed_queue_timeout: int = 0


class Admission:
    """A counting semaphore with a bounded, time-limited FIFO queue. Event-loop only."""

    def __init__(self, max_concurrent: int, max_queued: int, queue_timeout: float) -> None:
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self.queue_timeout = queue_timeout
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.stats = AdmissionStats()
        self._log = LimitLog(log)

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> bool:
        """True when the call may run (then `release` must follow); False: refuse it."""
        if self.in_flight < self.max_concurrent and not self._waiters:
            self.in_flight += 1
            self.stats.admitted += 1
            return True
        if len(self._waiters) >= self.max_queued or self.queue_timeout <= 0:
            self.stats.shed_queue_full += 1
            self._log.bit("overload: call refused (503), the queue is full")
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.queue_timeout)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return self._admitted_after_wait()  # the slot came as the timer fired
            waiter.cancel()
            self._discard(waiter)
            self.stats.shed_queue_timeout += 1
            self._log.bit("overload: call refused (503) after waiting for a free slot")
            return False
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed to us: pass it on
            else:
                waiter.cancel()
                self._discard(waiter)
            raise
        return self._admitted_after_wait()

    def _admitted_after_wait(self) -> bool:
        self.stats.admitted += 1
        self.stats.queued_then_admitted += 1
        return True

    def release(self) -> None:
        """Hand the slot to the oldest waiter still waiting, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # in_flight stays: the slot moves to the waiter
                return
        self.in_flight -= 1

    def _discard(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)


def _is_call(scope: Scope) -> bool:
    """Hook calls and feedback: `POST /cds-services/<id>[/feedback]`."""
    path: str = scope["path"]
    return scope["method"] == "POST" and path.startswith("/cds-services/")


_BUSY_BODY = orjson.dumps(operation_outcome(503, _BUSY_TEXT, code="overloaded"))
_BUSY_HEADERS = [
    (b"content-type", b"application/fhir+json"),
    (b"content-length", str(len(_BUSY_BODY)).encode()),
    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
]


class AdmissionControl:
    """Pure-ASGI middleware around `Admission`; inside CORS and the security headers, so a 503
    carries both."""

    def __init__(self, app: ASGIApp, *, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_call(scope):
            await self.app(scope, receive, send)
            return
        if not await self.admission.acquire():
            await send({"type": "http.response.start", "status": 503, "headers": _BUSY_HEADERS})
            await send({"type": "http.response.body", "body": _BUSY_BODY})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.release()
