"""Pure-ASGI middleware: security headers on every response, CORS for browser clients.

Pure ASGI (not BaseHTTPMiddleware) keeps the per-request cost to a header append.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SECURITY_HEADERS = [
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
                message["headers"] = [*message["headers"], *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_middleware(app: FastAPI, cors_origins: list[str], *, docs_served: bool) -> None:
    """CORS outermost so even 4xx/5xx carry the allow-origin header the browser needs."""
    app.add_middleware(SecurityHeaders, docs_served=docs_served)
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
