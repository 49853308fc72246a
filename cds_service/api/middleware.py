"""Pure-ASGI middleware: security headers on every response, CORS for browser clients,
admission control, and a 500 OperationOutcome for our own bugs.

Pure ASGI (not BaseHTTPMiddleware) keeps the per-request cost to a header append. Order,
outermost first: security headers, CORS, admission, internal errors, then FastAPI's own
exception handling. Starlette's error middleware sits outside all of them, so a 500 it wrote
carried neither the security headers nor the allow-origin header; `InternalErrors` answers
first, from inside.
"""

from __future__ import annotations

import logging
import re

import orjson
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds_service.api.admission import Admission, AdmissionControl
from cds_service.api.errors import log_unexpected, operation_outcome

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
_DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """Adds the headers a JSON API should always send (cards are PHI: never cache them)."""

    def __init__(self, app: ASGIApp, *, docs_served: bool = False) -> None:
        self.app = app
        # /docs and /redoc load scripts from a CDN, which the strict CSP would block.
        self.exempt: tuple[str, ...] = _DOCS_PATHS if docs_served else ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


log = logging.getLogger(__name__)
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")
_MAX_LOGGED_ORIGINS = 32


class RefusedOriginLog:
    """Names a browser origin CORS refuses in the log, once per origin, with the setting to
    change. The browser shows the refusal only in its own console; the tester reads ours."""

    def __init__(self, app: ASGIApp, *, allowed: list[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)
        self.logged: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "*" not in self.allowed:
            self._check(scope)
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> None:
        origin = host = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"host":
                host = value.decode("latin-1")
        if origin is None or origin in self.allowed or origin in self.logged:
            return
        if host is not None and origin.partition("://")[2] == host:
            return  # same origin (e.g. our own /docs page): CORS does not apply
        if len(self.logged) >= _MAX_LOGGED_ORIGINS:
            return
        self.logged.add(origin)
        shown = _UNPRINTABLE.sub("?", origin[:200]) + ("..." if len(origin) > 200 else "")
        log.warning(
            "CORS: refused the browser origin %s (not in CDS_CORS_ORIGINS; allowed: %s). "
            "A browser page there, such as a local CDS Hooks Sandbox, gets no answer: add the "
            "origin exactly as the browser shows it (localhost and 127.0.0.1 differ). "
            "Logged once per origin.",
            shown,
            ", ".join(sorted(self.allowed)) or "none",
        )
        if len(self.logged) == _MAX_LOGGED_ORIGINS:
            log.warning("CORS: further refused origins are not logged")


_INTERNAL_BODY = orjson.dumps(operation_outcome(500, "Internal error.", code="internal-error"))


class InternalErrors:
    """A bug answers 500 with an OperationOutcome, inside CORS and the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log_unexpected(scope, exc)
            if started:
                return  # half an answer went out: the server closes the connection
            await send({
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", b"application/fhir+json")],
            })
            await send({"type": "http.response.body", "body": _INTERNAL_BODY})


def install_middleware(
    app: FastAPI, cors_origins: list[str], *, docs_served: bool, admission: Admission
) -> None:
    """Added innermost first (each `add_middleware` wraps the ones before it)."""
    app.add_middleware(InternalErrors)
    app.add_middleware(AdmissionControl, admission=admission)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            allow_credentials=False,  # the sandbox sends no cookies; never `*` + credentials
            max_age=600,
            # Chrome's Private Network Access preflight: the hosted sandbox may reach localhost.
            allow_private_network=True,
        )
    # CORS preflight answers and 503s carry the security headers too.
    app.add_middleware(SecurityHeaders, docs_served=docs_served)
    app.add_middleware(RefusedOriginLog, allowed=cors_origins)  # outermost: sees preflights
