"""The one HTTP client that talks to EHR FHIR servers: GET a URL, get a JSON object back.

Callers check URLs with `FhirAccessPolicy` first; this module only makes the request safely:
a per-call time budget, no redirects, no cookies, no token in logs, and bounds on what an
allowlisted but misbehaving server can make us hold. While the answer streams in, we
decompress it ourselves in steps of at most `_STEP` bytes (httpx would inflate a whole network
read at once: a gzip bomb's first 64 kB are 64 MB) and count its decoded bytes and its JSON
values (commas and opening brackets: an upper bound on the objects, arrays, strings and numbers
the parse will create). Past `max_bytes`, or past the call's `JsonBudget`, the answer is
refused before it is parsed, so a parse never holds the event loop long (at most
`MAX_VALUES_PER_RESPONSE` values, tens of milliseconds) and memory stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import msgspec

from cds_service.cdshooks.resources import Resource, decode_resource, error_where
from cds_service.content_length import declared_length
from cds_service.fhir.errors import (
    FhirError,
    FhirResponseInvalid,
    FhirStatusError,
    FhirUnavailable,
    translate,
)

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 10_000_000  # CDS_FHIR_MAX_RESPONSE_BYTES
MAX_VALUES_PER_RESPONSE = 250_000  # one parse: ~30-120 ms of event loop at worst, ~25 MB
DEFAULT_CALL_VALUES = 1_000_000  # CDS_FHIR_MAX_JSON_VALUES
FHIR_JSON = "application/fhir+json"
_STEP = 1 << 20  # decompressed bytes produced per step
_ACCEPT_ENCODING = "gzip, deflate"  # the encodings `_Inflater` reads
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")


def _no_cookies() -> CookieJar:
    """A jar that refuses every cookie: one pooled client serves many EHRs and patients."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class JsonBudget:
    """JSON values one hook call may still read from FHIR servers (all its answers together).

    Shared by the concurrent fetches of a call and spent as the bytes stream in, so that
    concurrent answers cannot each take the whole of it (one event loop: no lock needed).
    An answer that is refused has still spent what it sent."""

    def __init__(self, values: int = DEFAULT_CALL_VALUES) -> None:
        self.values = values


class _Inflater:
    """Content-Encoding decoding in bounded steps. Identity, gzip and deflate only (we ask for
    no other); anything else is refused rather than parsed as JSON."""

    def __init__(self, encoding: str, host: str) -> None:
        self._host = host
        name = encoding.strip().lower()
        self._raw_deflate_tried = name != "deflate"
        if name in ("", "identity"):
            self._z: zlib._Decompress | None = None
        elif name in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif name == "deflate":
            self._z = zlib.decompressobj()
        else:
            raise FhirResponseInvalid(f"FHIR server {host}: unsupported Content-Encoding")

    def pieces(self, data: bytes) -> Iterator[bytes]:
        """Decoded output of `data`, at most `_STEP` bytes at a time, produced only as the
        caller asks for it (it stops asking once a limit is passed)."""
        if self._z is None:
            yield data
            return
        pending = data
        while True:
            try:
                piece = self._z.decompress(pending, _STEP)
            except zlib.error:
                if self._raw_deflate_tried:
                    raise FhirResponseInvalid(
                        f"FHIR server {self._host}: response body could not be decoded"
                    ) from None
                # "deflate" is sometimes sent without its zlib header (httpx tries both too).
                self._raw_deflate_tried = True
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._raw_deflate_tried = True
            if piece:
                yield piece
            pending = self._z.unconsumed_tail
            if not pending and len(piece) < _STEP:
                return  # input used up and no output held back

    def flush(self) -> bytes:
        return self._z.flush() if self._z is not None else b""


@dataclass(frozen=True, slots=True)
class FhirReply:
    """A usable 2xx answer: its status, the resource (a view: only the fields read) and how
    long it took."""

    status_code: int
    body: Resource
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
    ) -> Resource:
        """GET `url` and return the resource; raise a `FhirError` subclass otherwise."""
        reply = await self.fetch(url, token=token, timeout=timeout, resource_type=resource_type)
        return reply.body

    async def fetch(
        self,
        url: str | httpx.URL,
        *,
        token: str | None,
        timeout: float,
        resource_type: str | None = None,
        budget: JsonBudget | None = None,
    ) -> FhirReply:
        """`get_json` plus the status and timing, for the call report.

        `timeout` bounds the whole exchange (connect, headers, body, decoding and parsing),
        not just each read: a server dripping bytes slowly is cut off too. `budget`: the JSON
        values the hook call may still read (a fresh default budget when None).
        `resource_type` is only for the log line.
        """
        headers = {"Accept": FHIR_JSON, "Accept-Encoding": _ACCEPT_ENCODING}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            url = httpx.URL(url)  # parsed once here (a no-op copy when it already is a URL)
            host = url.host
        except httpx.InvalidURL:
            host = "?"
        budget = budget if budget is not None else JsonBudget()
        started = time.perf_counter()
        status: int | None = None
        try:
            async with asyncio.timeout(timeout):
                status, raw = await self._get(url, headers, timeout, host, budget)
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
        self,
        url: str | httpx.URL,
        headers: dict[str, str],
        timeout: float,
        host: str,
        budget: JsonBudget,
    ) -> tuple[int, bytes]:
        """(status, decoded body) of a 2xx answer."""
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
                reader = _BoundedBody(host, self._max_bytes, budget)
                if response.is_stream_consumed:
                    # Built from bytes in memory (test transports): httpx decoded it already.
                    reader.add(response.content)
                    return status, reader.body()
                inflater = _Inflater(response.headers.get("Content-Encoding", ""), host)
                async for chunk in response.aiter_raw():
                    for piece in inflater.pieces(chunk):
                        reader.add(piece)
                reader.add(inflater.flush())
                return status, reader.body()
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


class _BoundedBody:
    """Decoded pieces of one answer, refused as soon as they pass a bound."""

    def __init__(self, host: str, max_bytes: int, budget: JsonBudget) -> None:
        self._host = host
        self._max_bytes = max_bytes
        self._budget = budget
        self._chunks: list[bytes] = []
        self.size = 0
        self.values = 0

    def add(self, piece: bytes) -> None:
        if not piece:
            return
        self.size += len(piece)
        values = piece.count(b",") + piece.count(b"{") + piece.count(b"[")
        self.values += values
        self._budget.values -= values
        if self.size > self._max_bytes:
            raise FhirResponseInvalid(f"FHIR server {self._host}: response too large")
        if self.values > MAX_VALUES_PER_RESPONSE or self._budget.values < 0:
            raise FhirResponseInvalid(
                f"FHIR server {self._host}: response too large (more JSON values than allowed)"
            )
        self._chunks.append(piece)

    def body(self) -> bytes:
        return b"".join(self._chunks)


def _parse(raw: bytes, host: str) -> Resource:
    """The answer decoded like a hook call's prefetch: into a view, unread fields skipped."""
    try:
        body = decode_resource(raw)
    except msgspec.ValidationError as exc:
        _reason, path = error_where(exc)
        if not path:  # the body itself is not an object
            raise FhirResponseInvalid(
                f"FHIR server {host}: response is not a FHIR resource"
            ) from exc
        raise FhirResponseInvalid(  # a JSON path, never a value
            f"FHIR server {host}: response has a field of the wrong type ({path[:120]})"
        ) from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        raise FhirResponseInvalid(f"FHIR server {host}: response is not JSON") from exc
    if body.resourceType is None:
        raise FhirResponseInvalid(f"FHIR server {host}: response is not a FHIR resource")
    return body


def _type_of(body: Resource) -> str | None:
    """The resourceType for the log line, only if it looks like one (it is server data)."""
    value = body.resourceType
    return value if isinstance(value, str) and _TYPE_NAME.fullmatch(value) else None
