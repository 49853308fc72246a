"""A real uvicorn server in a thread, with `cds-service serve`'s options, for tests that need
sockets: slow clients, oversized headers, connection limits. Every socket has a timeout, so a
test that goes wrong fails in seconds instead of hanging."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from cds_service.api.serving import uvicorn_options
from cds_service.app import create_app
from cds_service.settings import Settings

SOCKET_TIMEOUT = 10.0


@dataclass(frozen=True)
class Served:
    app: FastAPI
    host: str
    port: int

    def connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=SOCKET_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def request(self, raw: bytes) -> bytes:
        """Send `raw` on a new connection; everything the server sends until it closes."""
        with self.connect() as sock:
            sock.sendall(raw)
            return read_until_closed(sock)


def read_until_closed(sock: socket.socket, limit: int = 1_000_000) -> bytes:
    chunks = []
    size = 0
    while size < limit:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
        size += len(data)
    return b"".join(chunks)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length (all of ours have one)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed before a full response head: {buf!r}")
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    return parse_head(head, rest, sock)


def parse_head(head: bytes, rest: bytes, sock: socket.socket | None = None) -> tuple[int, dict[str, str], bytes]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while sock is not None and len(rest) < length:
        data = sock.recv(65536)
        if not data:
            break
        rest += data
    return status, headers, rest[:length]


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, rest = raw.partition(b"\r\n\r\n")
    return parse_head(head, rest)


@contextmanager
def serve(settings: Settings) -> Iterator[Served]:
    app = create_app(settings)
    options = uvicorn_options(settings)
    options["log_config"] = None
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", **options)
    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield Served(app, "127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
