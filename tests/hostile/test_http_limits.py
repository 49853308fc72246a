"""Issue 14, items 1, 2 and 10 (server header): the HTTP layer bounds time, header size and
count, and open connections, before the application sees a request; each refusal is an
OperationOutcome with the security headers, counted in /metrics and logged without data."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

import orjson
import pytest

from tests.hostile.server import Served, parse_response, read_response, read_until_closed

HOOK = "/cds-services/muscle-cramps-order-select"


def outcome_code(body: bytes) -> str:
    outcome = orjson.loads(body)
    assert outcome["resourceType"] == "OperationOutcome"
    code: str = outcome["issue"][0]["details"]["coding"][0]["code"]
    return code


def assert_guarded(headers: dict[str, str]) -> None:
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "server" not in headers


def limit_events(served: Served) -> dict[str, float]:
    raw = served.request(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    status, _, body = parse_response(raw)
    assert status == 200
    events = {}
    for line in body.decode().splitlines():
        if line.startswith("cds_http_limit_events_total{"):
            name = line.split('limit="', 1)[1].split('"', 1)[0]
            events[name] = float(line.rsplit(" ", 1)[1])
    return events


def test_a_normal_request_has_no_server_header(served: Callable[..., Served]) -> None:
    server = served()
    status, headers, body = parse_response(
        server.request(b"GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    )
    assert status == 200 and body == b'{"status":"ok"}'
    assert_guarded(headers)


def test_a_connection_that_sends_nothing_is_closed(served: Callable[..., Served]) -> None:
    server = served()
    with server.connect() as sock:
        started = time.monotonic()
        assert read_until_closed(sock) == b""
        assert time.monotonic() - started < 3
    assert limit_events(server)["idle_timeout"] >= 1


@pytest.mark.parametrize("drip", [False, True], ids=["idle-half-sent", "dripped"])
def test_headers_must_arrive_in_time(
    served: Callable[..., Served], drip: bool, caplog: pytest.LogCaptureFixture
) -> None:
    server = served()
    with caplog.at_level(logging.WARNING), server.connect() as sock:
        started = time.monotonic()
        sock.sendall(b"POST /cds-services/x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer sec")
        if drip:  # a byte every 50 ms never extends the deadline
            sock.settimeout(0.05)
            while True:
                try:
                    sock.sendall(b"r")
                    if sock.recv(1, socket.MSG_PEEK):
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
            sock.settimeout(10)
        status, headers, body = read_response(sock)
        assert time.monotonic() - started < 3
    assert status == 408 and outcome_code(body) == "header-timeout"
    assert headers["connection"] == "close"
    assert_guarded(headers)
    logged = "\n".join(r.getMessage() for r in caplog.records if "timeout" in r.getMessage())
    assert "header timeout" in logged and "sec" not in logged and "127.0.0.1" not in logged


def test_a_dripped_body_is_cut_off(served: Callable[..., Served]) -> None:
    server = served()
    with server.connect() as sock:
        started = time.monotonic()
        sock.sendall(
            f"POST {HOOK} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{".encode()
        )
        sock.settimeout(0.1)
        while time.monotonic() - started < 5:
            try:
                sock.sendall(b" ")
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        sock.settimeout(10)
        status, headers, body = read_response(sock)
        assert time.monotonic() - started < 3
        assert read_until_closed(sock) == b""
    assert status == 408 and outcome_code(body) == "body-timeout"
    assert_guarded(headers)
    assert limit_events(server)["body_timeout"] == 1


def test_an_answer_before_the_body_ends_closes_the_connection(
    served: Callable[..., Served],
) -> None:
    """Otherwise a client could hold the connection by dripping a body nobody reads."""
    server = served(http_body_timeout_seconds=30)
    with server.connect() as sock:
        sock.sendall(b"POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\nxx")
        status, _, body = read_response(sock)
        started = time.monotonic()
        assert read_until_closed(sock) == b""
        assert time.monotonic() - started < 3
    assert status == 404 and outcome_code(body) == "http-404"


def test_an_oversized_header_is_refused_before_it_is_read(
    served: Callable[..., Served],
) -> None:
    """A 32 MB Authorization header was buffered in full; now the refusal comes after the
    limit plus at most one network read."""
    server = served()
    sent = 0
    with server.connect() as sock:
        sock.sendall(b"GET /cds-services HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ")
        try:
            while sent < 32_000_000:
                sock.sendall(b"A" * 65536)
                sent += 65536
        except OSError:
            pass  # the server closed the connection on us: the point
        status, headers, body = read_response(sock)
    assert sent < 4_000_000, sent
    assert status == 431 and outcome_code(body) == "header-too-large"
    assert_guarded(headers)


def test_headers_over_the_byte_limit_in_one_packet_are_refused(
    served: Callable[..., Served],
) -> None:
    server = served()
    big = b"X-Padding: " + b"p" * 9000 + b"\r\n"
    status, _, body = parse_response(
        server.request(b"GET /health/live HTTP/1.1\r\nHost: t\r\n" + big + b"\r\n")
    )
    assert status == 431 and outcome_code(body) == "header-too-large"


def test_too_many_headers_are_refused(served: Callable[..., Served]) -> None:
    server = served()
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
    status, headers, body = parse_response(
        server.request(b"GET /health/live HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n")
    )
    assert status == 431 and outcome_code(body) == "too-many-headers"
    assert_guarded(headers)
    assert limit_events(server)["too_many_headers"] == 1


def test_invalid_http_is_an_operation_outcome(served: Callable[..., Served]) -> None:
    server = served()
    status, headers, body = parse_response(server.request(b"\x16\x03\x01 not http\r\n\r\n"))
    assert status == 400 and outcome_code(body) == "invalid-http"
    assert_guarded(headers)


def test_at_the_connection_cap_the_longest_idle_connection_makes_room(
    served: Callable[..., Served],
) -> None:
    server = served(http_idle_timeout_seconds=30, http_header_timeout_seconds=30)
    idle = [server.connect() for _ in range(16)]
    try:
        idle[-1].sendall(b"GET /health/live HTTP/1.1\r\n")  # half-sent: evictable too
        time.sleep(0.2)
        raw = server.request(b"GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert parse_response(raw)[0] == 200
        idle[0].settimeout(3)
        assert read_until_closed(idle[0]) == b"", "the oldest idle connection was closed"
    finally:
        for sock in idle:
            sock.close()
    assert limit_events(server)["connection_evicted"] >= 1


def test_when_every_connection_is_busy_a_new_one_gets_503(
    served: Callable[..., Served],
) -> None:
    server = served(http_body_timeout_seconds=30)
    busy = [server.connect() for _ in range(16)]
    try:
        for sock in busy:  # each a request whose body is still to come: not evictable
            sock.sendall(
                f"POST {HOOK} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                "Content-Length: 100\r\n\r\n".encode()
            )
        time.sleep(0.3)
        with server.connect() as extra:
            status, headers, body = read_response(extra)
        assert status == 503 and outcome_code(body) == "too-many-connections"
        assert headers["retry-after"] == "1"
        assert_guarded(headers)
    finally:
        for sock in busy:
            sock.close()
