"""Admission control: under overload, keep accepted calls fast and refuse the rest at once.

A card that arrives after the clinician moved on is worth nothing (CDS Hooks asks for answers
in about 500 ms). One process answers hook calls one CPU at a time, so letting every waiting
call in only makes all of them slow. Two rules, checked when a call reaches the application:

- *Waited too long already.* Under CPU overload the queue is not ours: requests wait in the
  event loop's backlog, each behind every other one that arrived with it, and would all be
  answered late. The HTTP layer (api/connections) stamps when a request's headers arrived; a
  call that reaches us more than `queue_timeout` seconds later is refused at once (`stale`).
- *Too many at once.* At most `max_concurrent` calls run (those waiting on a FHIR server
  count); up to `max_queued` more wait for a slot, first come first served, until
  `queue_timeout` after their arrival (`queue_timeout`); the rest are refused (`queue_full`).
- *Backlog full.* When served by `cds-service serve`, the HTTP layer counts calls it has handed
  to the application that have not reached this check yet (`pending`). A new call is refused as
  soon as its headers are parsed (`backlog`) when pending, running and queued calls already
  fill `max_concurrent + max_queued`: under a flood, most refusals then cost no application
  task at all, which keeps the CPU for the calls that were let in.

A refusal is `503` with `Retry-After`, `Connection: close` and an OperationOutcome, a fraction of
a millisecond of work. Health, metrics, discovery and CORS preflights are never held back. The
check runs before authentication, so refusing costs no signature check or database write.
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

    shed_queue_full: int = 0
    shed_queue_timeout: int = 0
    shed_stale: int = 0
    shed_backlog: int = 0


class Admission:
    """A counting semaphore with a bounded, time-limited FIFO queue. Event-loop only."""

    def __init__(self, max_concurrent: int, max_queued: int, queue_timeout: float) -> None:
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self.queue_timeout = queue_timeout
        self.in_flight = 0
        self.handed_over = 0  # calls the HTTP layer passed to the application (api/connections)
        self.arrived = 0  # of those, calls that reached `acquire`
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.stats = AdmissionStats()
        self._log = LimitLog(log)

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def backlog_full(self) -> bool:
        """For the HTTP layer, as a call's headers arrive: refuse it before it costs a task?
        Counts the refusal when it says yes; counts the call as handed over when it says no."""
        pending = self.handed_over - self.arrived
        if pending + self.in_flight + len(self._waiters) >= self.max_concurrent + self.max_queued:
            self.stats.shed_backlog += 1
            self._log.bit("overload: call refused (503) on arrival, the backlog is full")
            return True
        self.handed_over += 1
        return False

    async def acquire(self, waited: float = 0.0) -> bool:
        """True when the call may run (then `release` must follow); False: refuse it.
        `waited`: seconds since the request arrived (0 when the server does not say)."""
        if self.arrived < self.handed_over:
            self.arrived += 1
        if waited > self.queue_timeout:
            self.stats.shed_stale += 1
            self._log.bit("overload: call refused (503), it waited too long to be read")
            return False
        if self.in_flight < self.max_concurrent and not self._waiters:
            self.in_flight += 1
            return True
        if len(self._waiters) >= self.max_queued or self.queue_timeout <= 0:
            self.stats.shed_queue_full += 1
            self._log.bit("overload: call refused (503), the queue is full")
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.queue_timeout - waited)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return True  # the slot came as the timer fired
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


def is_call(method: str, path: str) -> bool:
    """Hook calls and feedback: `POST /cds-services/<id>[/feedback]`."""
    return method == "POST" and path.startswith("/cds-services/")


_BUSY_BODY = orjson.dumps(operation_outcome(503, _BUSY_TEXT, code="overloaded"))
_BUSY_HEADERS = [
    (b"content-type", b"application/fhir+json"),
    (b"content-length", str(len(_BUSY_BODY)).encode()),
    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
]
RECEIVED_AT = "cds.received_at"  # scope key: loop time the request's headers arrived


class AdmissionControl:
    """Pure-ASGI middleware around `Admission`; inside CORS and the security headers, so a 503
    carries both."""

    def __init__(self, app: ASGIApp, *, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_call(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        received = scope.get(RECEIVED_AT)
        waited = asyncio.get_running_loop().time() - received if received is not None else 0.0
        if not await self.admission.acquire(waited):
            await send({"type": "http.response.start", "status": 503, "headers": _BUSY_HEADERS})
            await send({"type": "http.response.body", "body": _BUSY_BODY})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.release()


class Refusal:
    """The ASGI app the HTTP layer runs instead of ours for a call refused on arrival: the same
    503, with the security headers and, for an allowed browser origin, its CORS header."""

    def __init__(self, cors_origins: list[str]) -> None:
        self._origins = frozenset(origin.encode() for origin in cors_origins)
        self._any = b"*" in self._origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from cds_service.api.middleware import SECURITY_HEADERS

        headers = [*_BUSY_HEADERS, *SECURITY_HEADERS]
        origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
        if origin is not None and (self._any or origin in self._origins):
            headers += [(b"access-control-allow-origin", b"*" if self._any else origin),
                        (b"vary", b"Origin")]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": _BUSY_BODY})
