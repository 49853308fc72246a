"""The one HTTP client that talks to EHR FHIR servers: GET a URL, get a JSON object back.

Callers check URLs with `FhirAccessPolicy` first; this module only makes the request safely:
a per-call time budget, a response size cap, no redirects, no cookies, no token in logs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import orjson

from cds_service.content_length import declared_length
from cds_service.fhir.errors import (
    FhirError,
    FhirResponseInvalid,
    FhirStatusError,
    FhirUnavailable,
    translate,
)

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 20 * 1024 * 1024
FHIR_JSON = "application/fhir+json"
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")


def _no_cookies() -> CookieJar:
    """A jar that refuses every cookie: one pooled client serves many EHRs and patients."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@dataclass(frozen=True, slots=True)
class FhirReply:
    """A usable 2xx answer: its status, the parsed JSON object and how long it took."""

    status_code: int
    body: dict[str, Any]
    elapsed_ms: float


class FhirClient:
    """Wraps one pooled `httpx.AsyncClient` created at start-up and closed at shutdown."""

    def __init__(self, http: httpx.AsyncClient, *, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._http = http
        self._http.cookies = _no_cookies()
        self._max_bytes = max_bytes

    @classmethod
    def create(
        cls,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> FhirClient:
        """Build the pooled client with explicit timeouts and limits (never httpx's defaults)."""
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
            limits=httpx.Limits(
                max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0
            ),
            # A redirect could lead off the allowed base carrying the bearer token (and past the
            # SSRF check); a FHIR server has no reason to redirect an API read.
            follow_redirects=False,
            headers={"Accept": FHIR_JSON},
            cookies=_no_cookies(),
            transport=transport,
        )
        return cls(http, max_bytes=max_bytes)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_json(
        self,
        url: str | httpx.URL,
        *,
        token: str | None,
        timeout: float,
        resource_type: str | None = None,
    ) -> dict[str, Any]:
        """GET `url` and return the JSON object; raise a `FhirError` subclass otherwise."""
        reply = await self.fetch(url, token=token, timeout=timeout, resource_type=resource_type)
        return reply.body

    async def fetch(
        self,
        url: str | httpx.URL,
        *,
        token: str | None,
        timeout: float,
        resource_type: str | None = None,
    ) -> FhirReply:
        """`get_json` plus the status and timing, for the call report.

        `timeout` bounds the whole exchange (connect, headers, body), not just each read:
        a server dripping bytes slowly is cut off too. `resource_type` is only for the log line.
        """
        headers = {"Accept": FHIR_JSON}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            url = httpx.URL(url)  # parsed once here (a no-op copy when it already is a URL)
            host = url.host
        except httpx.InvalidURL:
            host = "?"
        started = time.perf_counter()
        status: int | None = None
        try:
            async with asyncio.timeout(timeout):
                status, raw = await self._get(url, headers, timeout, host)
            body = _parse(raw, host)
        except TimeoutError as exc:
            error: FhirError = FhirUnavailable(f"FHIR server {host}: timed out")
            self._log(host, resource_type, status, started, error)
            raise error from exc
        except FhirError as exc:
            self._log(host, resource_type, getattr(exc, "status_code", status), started, exc)
            raise
        ms = self._log(host, resource_type or _type_of(body), status, started, None)
        return FhirReply(status_code=status, body=body, elapsed_ms=ms)

    async def _get(
        self, url: str | httpx.URL, headers: dict[str, str], timeout: float, host: str
    ) -> tuple[int, bytes]:
        try:
            async with self._http.stream(
                "GET", url, headers=headers, timeout=timeout, follow_redirects=False
            ) as response:
                status = response.status_code
                if not 200 <= status < 300:
                    # 3xx included: see `create` for why redirects are not followed.
                    raise FhirStatusError(f"FHIR server {host}: HTTP {status}", status_code=status)
                declared = declared_length(response.headers.get("Content-Length"))
                if declared is not None and declared > self._max_bytes:
                    raise FhirResponseInvalid(f"FHIR server {host}: response too large")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():  # decoded: caps gzip bombs too
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise FhirResponseInvalid(f"FHIR server {host}: response too large")
                    chunks.append(chunk)
                return status, b"".join(chunks)
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise translate(exc, host=host) from exc

    def _log(
        self,
        host: str,
        resource_type: str | None,
        status: int | None,
        started: float,
        error: FhirError | None,
    ) -> float:
        ms = (time.perf_counter() - started) * 1000
        level = logging.INFO if error else logging.DEBUG
        outcome = type(error).__name__ if error else "ok"
        log.log(
            level,
            "FHIR GET host=%s type=%s status=%s ms=%.0f outcome=%s",
            host,
            resource_type or "-",
            status if status is not None else "-",
            ms,
            outcome,
        )
        return ms


def _parse(raw: bytes, host: str) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FhirResponseInvalid(f"FHIR server {host}: response is not JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise FhirResponseInvalid(f"FHIR server {host}: response is not a FHIR resource")
    return body


def _type_of(body: dict[str, Any]) -> str | None:
    """The resourceType for the log line, only if it looks like one (it is server data)."""
    value = body.get("resourceType")
    return value if isinstance(value, str) and _TYPE_NAME.fullmatch(value) else None
