"""Bounds at the HTTP layer, before the application sees a request: time, header size, count
of open connections.

uvicorn (httptools) buffers a request's headers without limit, has no deadline for receiving
them or the body, and only times out a connection after a response (keep-alive); a connection
that never sends a byte, or drips one, stays open for ever. So `cds-service serve` runs uvicorn
with `GuardedHttpProtocol`, a subclass of its httptools protocol that adds, per connection:

    idle (no request in progress)   closed after `idle_timeout` (also before the first byte)
    request line + headers          `header_timeout` from the first byte; then 408, closed
                                    at most `max_header_bytes` and `max_headers`; else 431
    body                            `body_timeout` from the end of the headers; then 408
    answered before the body ended  closed (the rest of the body is not waited for)

and, per process, at most `max_connections` open: a new connection beyond that closes the
longest-idle one that has no request in progress (slow or idle clients go first); when every
connection is busy the new one gets 503. It also stamps each request's arrival for admission
control (api/admission), and refuses a hook or feedback call as its headers arrive when the
calls already let in fill the concurrency and queue (503, without an application task).
Each refusal is an OperationOutcome, counted in /metrics and logged (rate-limited, never with
an address or a header).

The protocol finds its `ConnectionGuard` on the application (`app.state.cds.connections`), so
there is no global state and one guard per app.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import resource
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cds_service.api.admission import RECEIVED_AT, Refusal, is_call
from cds_service.api.errors import operation_outcome
from cds_service.api.middleware import SECURITY_HEADERS
from cds_service.observability.limits import LimitLog

if TYPE_CHECKING:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from cds_service.api.state import AppState
    from cds_service.settings import Settings

log = logging.getLogger(__name__)

FD_RESERVE = 256  # descriptors kept for the database, FHIR and JWKS clients, threads, files
_HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_connections: int = 8192
    idle_timeout: float = 5.0
    header_timeout: float = 10.0
    body_timeout: float = 20.0
    max_header_bytes: int = 32_768
    max_headers: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_connections=settings.http_max_connections,
            idle_timeout=settings.http_idle_timeout_seconds,
            header_timeout=settings.http_header_timeout_seconds,
            body_timeout=settings.http_body_timeout_seconds,
            max_header_bytes=settings.http_max_header_bytes,
            max_headers=settings.http_max_headers,
        )


LIMIT_NAMES = (
    "idle_timeout",
    "header_timeout",
    "body_timeout",
    "header_too_large",
    "too_many_headers",
    "connection_evicted",
    "connection_refused",
    "invalid_http",
    "closed_unread_body",
)


@dataclass(slots=True)
class ConnectionStats:
    """How often each limit bit (names: `LIMIT_NAMES`), for /metrics."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIMIT_NAMES, 0))


def fd_cap(wanted: int) -> int:
    """`wanted` connections, or fewer if the process's descriptor limit cannot hold them."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, soft - FD_RESERVE))


def raise_fd_limit() -> None:
    """Lift the soft descriptor limit to the hard one (uvicorn would stop accepting at it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class ConnectionGuard:
    """Per-process connection bookkeeping shared by every `GuardedHttpProtocol`."""

    def __init__(self, limits: HttpLimits, cors_origins: list[str] | None = None) -> None:
        self.limits = limits
        self.state: AppState | None = None  # set by create_app: admission control
        self.refusal = Refusal(cors_origins or [])
        self.max_connections = fd_cap(limits.max_connections)
        if self.max_connections < limits.max_connections:
            log.warning(
                "CDS_HTTP_MAX_CONNECTIONS=%d lowered to %d: the descriptor limit is lower",
                limits.max_connections,
                self.max_connections,
            )
        self.open = 0
        self.stats = ConnectionStats()
        # Connections with no request in progress, longest-idle first (dicts keep order).
        self._idle: dict[GuardedHttpProtocol, None] = {}
        self._log = LimitLog(log)

    def opened(self, conn: GuardedHttpProtocol) -> bool:
        """Count a new connection; False when it must be refused (every other one is busy)."""
        self.open += 1
        if self.open <= self.max_connections:
            return True
        if self._idle:
            oldest = next(iter(self._idle))
            self.forget(oldest)
            self.bit("connection_evicted", "connection limit: closed the longest-idle one")
            oldest.evict()
            return True
        self.bit("connection_refused", "connection limit: refused a new connection (503)")
        return False

    def closed(self, conn: GuardedHttpProtocol) -> None:
        self.open -= 1
        self._idle.pop(conn, None)

    def idle(self, conn: GuardedHttpProtocol) -> None:
        self._idle.pop(conn, None)
        self._idle[conn] = None

    def forget(self, conn: GuardedHttpProtocol) -> None:
        self._idle.pop(conn, None)

    def bit(self, limit: str, message: str | None) -> None:
        self.stats.counts[limit] += 1
        if message is not None:
            self._log.bit(message)


def guard_of(app: Any) -> ConnectionGuard:
    """The guard of the application uvicorn serves (under its own wrappers)."""
    for _ in range(16):
        state = getattr(getattr(app, "state", None), "cds", None)
        guard = getattr(state, "connections", None)
        if isinstance(guard, ConnectionGuard):
            return guard
        app = getattr(app, "app", None)
        if app is None:
            break
    raise RuntimeError("GuardedHttpProtocol serves only apps built by cds_service.create_app")


class Phase(enum.Enum):
    IDLE = "idle"  # no request in progress (new, or answered)
    HEAD = "head"  # request line and headers arriving
    BODY = "body"  # headers done, body arriving (the application already runs)
    WAIT = "wait"  # request received; the application is answering


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the reason is on the protocol."""


def raw_response(status: int, text: str, code: str, extra: list[tuple[bytes, bytes]]) -> bytes:
    """A complete `Connection: close` answer with an OperationOutcome body, for refusals made
    before the application has the request."""
    body = orjson.dumps(operation_outcome(status, text, code=code))
    reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large",
              400: b"Bad Request", 503: b"Service Unavailable"}[status]
    head = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
    headers = [
        *extra,
        (b"content-type", b"application/fhir+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *SECURITY_HEADERS,
    ]
    head.extend(name + b": " + value + b"\r\n" for name, value in headers)
    return b"".join(head) + b"\r\n" + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above. One instance per connection."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = guard_of(self.app)
        self.limits = self.guard.limits
        self.phase = Phase.IDLE
        self._timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # raw bytes while no headers are complete (bounds partial heads)
        self._head_size = 0  # request line and headers as parsed
        self._header_count = 0
        self._refusal: tuple[int, str, str, str] | None = None
        self._requests = 0
        self._counted = False

    # --- connection ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._counted = True
        if not self.guard.opened(self):
            busy = "The service has too many open connections; retry after a second."
            self._answer_and_close(503, busy, "too-many-connections", [(b"retry-after", b"1")])
            return
        self._enter_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self._counted:
            self._counted = False
            self.guard.closed(self)
        super().connection_lost(exc)

    def evict(self) -> None:
        """Closed to make room for a new connection (we had no request in progress)."""
        self._cancel_timer()
        if self.phase is Phase.HEAD:
            self._answer_and_close(503, "Too many open connections.", "too-many-connections",
                                   [(b"retry-after", b"1")])
        elif not self.transport.is_closing():
            self.transport.close()

    # --- receiving -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self.transport.is_closing():
            return
        if self.phase is Phase.IDLE or self.phase is Phase.HEAD:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # no WebSockets here; the request goes on
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(*self._refusal)
            else:
                self.guard.bit("invalid_http", None)
                self._answer_and_close(400, "The request is not valid HTTP/1.1.", "invalid-http")
            return
        in_head = self.phase is Phase.IDLE or self.phase is Phase.HEAD
        if in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse_too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.phase = Phase.HEAD
        self._head_size = 0
        self._header_count = 0
        self._arm(self.limits.header_timeout, self._head_too_slow)

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refusal = (431, f"More than {self.limits.max_headers} header fields.",
                             "too-many-headers", "too_many_headers")
            raise _Refused
        if self._head_size > self.limits.max_header_bytes:
            self._refusal = self._too_large()
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        # When the request arrived, for admission control (api/admission) to see its wait.
        cast(dict[str, Any], self.scope)[RECEIVED_AT] = self.loop.time()
        self.phase = Phase.BODY
        self._head_bytes = 0
        self._requests += 1
        self.guard.forget(self)
        self._arm(self.limits.body_timeout, self._body_too_slow)
        state = self.guard.state
        path = self.url.split(b"?", 1)[0].decode("latin-1")
        if is_call(self.parser.get_method().decode("latin-1"), path) and (
            state is not None and state.admission.backlog_full()
        ):
            # Refused on arrival: uvicorn runs this small app for the request instead of ours
            # (as it does for its own `limit_concurrency`), and reads and drops the body.
            app, self.app = self.app, self.guard.refusal
            try:
                super().on_headers_complete()
            finally:
                self.app = app
            return
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.phase = Phase.WAIT
        self._cancel_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.phase is Phase.BODY and self.cycle.response_complete:
            # Answered before the body ended (401, 404, 413...): waiting for the rest would
            # let a client hold the connection by dripping it.
            self.guard.bit("closed_unread_body", None)
            self._cancel_timer()
            self.transport.close()
        elif self.phase is Phase.WAIT and not self.pipeline:
            self._enter_idle()

    # --- timers and refusals ---------------------------------------------------------------

    def _enter_idle(self) -> None:
        self.phase = Phase.IDLE
        self._head_bytes = 0
        self.guard.idle(self)
        self._arm(self.limits.idle_timeout, self._idle_too_long)

    def _arm(self, seconds: float, callback: Any) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(seconds, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _idle_too_long(self) -> None:
        self._timer = None
        if self.phase is not Phase.IDLE or self.transport.is_closing():
            return
        message = None if self._requests else "idle timeout: closed a connection that sent nothing"
        self.guard.bit("idle_timeout", message)
        self.transport.close()

    def _head_too_slow(self) -> None:
        self._timer = None
        if self.phase is Phase.HEAD:
            self._refuse(
                408,
                f"The request headers did not arrive within {self.limits.header_timeout:g} s.",
                "header-timeout",
                "header_timeout",
            )

    def _body_too_slow(self) -> None:
        self._timer = None
        if self.phase is not Phase.BODY or self.transport.is_closing():
            return
        self.guard.bit("body_timeout", "body timeout: closed a request whose body was too slow")
        if self.cycle is not None and not self.cycle.response_started:
            text = f"The request body did not arrive within {self.limits.body_timeout:g} s."
            # The application, waiting for the body, sees a disconnect; its answer is dropped.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
            self._answer_and_close(408, text, "body-timeout")
        else:
            self.transport.close()

    def _too_large(self) -> tuple[int, str, str, str]:
        return (431, f"The request line and headers exceed {self.limits.max_header_bytes} bytes.",
                "header-too-large", "header_too_large")

    def _refuse_too_large(self) -> None:
        self._refuse(*self._too_large())

    def _refuse(self, status: int, text: str, code: str, limit: str) -> None:
        self._cancel_timer()
        self.guard.bit(limit, f"{limit.replace('_', ' ')}: refused a request ({status})")
        self._answer_and_close(status, text, code)

    def _answer_and_close(
        self, status: int, text: str, code: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self._cancel_timer()
        self.guard.forget(self)
        if self.transport.is_closing():
            return
        defaults = list(self.server_state.default_headers)
        self.transport.write(raw_response(status, text, code, [*defaults, *(extra or [])]))
        self.transport.close()
