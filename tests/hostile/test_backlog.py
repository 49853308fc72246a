"""Issue 14, item 4 at the HTTP layer: when the calls already let in fill the concurrency and
queue, a new call is refused as its headers arrive (no application task), with the same 503."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import orjson

from tests.hostile.server import Served, read_response

HOOK = "/cds-services/muscle-cramps-order-select"


def test_a_call_beyond_the_backlog_is_refused_on_arrival(served: Callable[..., Served]) -> None:
    server = served(max_concurrent_calls=1, max_queued_calls=0, http_body_timeout_seconds=30)
    admission = server.app.state.cds.admission
    with server.connect() as holder, server.connect() as extra:
        # The first call is handed over and waits for its body: it holds the only place.
        holder.sendall(f"POST {HOOK} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       "Content-Length: 10\r\n\r\n".encode())
        deadline = time.monotonic() + 5
        while admission.in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        body = b"{}"
        extra.sendall(f"POST {HOOK} HTTP/1.1\r\nHost: t\r\nOrigin: https://sandbox.cds-hooks.org\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        status, headers, answer = read_response(extra)
        assert status == 503 and headers["retry-after"] == "1"
        assert headers["access-control-allow-origin"] == "https://sandbox.cds-hooks.org"
        assert headers["cache-control"] == "no-store" and "server" not in headers
        assert orjson.loads(answer)["issue"][0]["details"]["coding"][0]["code"] == "overloaded"
        # Kept alive: the refused call's body was read and dropped, the next one is answered.
        extra.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(extra)[0] == 200
        holder.shutdown(socket.SHUT_RDWR)
    assert admission.stats.shed_backlog == 1
