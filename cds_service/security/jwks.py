"""Signing keys per trusted client: inline keys, plus JWK Sets fetched from configured URLs.

Only URLs written in the trust configuration are ever fetched: a client's `jwks_urls`, and a
token's `jku` only when it is in that client's `allowed_jku`. Fetching whatever `jku` a token
names would let an attacker supply their own key (and use us for SSRF).

Fetched sets are cached. An unknown `kid` triggers one refetch, at most one per URL per
`refetch_interval` (60 s by default), so an EHR's key rotation is followed within a minute
while a flood of made-up kids costs the EHR's JWKS endpoint one request a minute at most.
A fetch that fails keeps the last good set (until it is refreshed successfully).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import httpx

from cds_service.content_length import declared_length
from cds_service.security.keys import UnusableKey, VerifyKey, parse_jwk_set
from cds_service.security.trust import TrustedClient

log = logging.getLogger(__name__)

_ACCEPT = "application/jwk-set+json, application/json"


class JwksFetchError(Exception):
    """A JWK Set could not be fetched or parsed (the reason is logged, never shown)."""


@dataclass(frozen=True, slots=True)
class _CachedSet:
    keys: dict[str, VerifyKey]
    fetched_at: float


class JwksCache:
    """Keys by client and kid. One instance per process; safe for concurrent requests."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        refetch_interval: float = 60.0,
        max_age: float = 3600.0,
        timeout: float = 3.0,
        max_bytes: int = 256_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`http` is injected (and owned by the caller); it must not follow redirects.

        `max_age`: a cached set older than this is refreshed on its next use (so a key the EHR
        withdrew stops working within that time); `refetch_interval` bounds every fetch.
        """
        self._http = http
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._clock = clock
        self._inline: dict[str, dict[str, VerifyKey]] = {}
        self._sets: dict[str, _CachedSet] = {}
        self._last_attempt: dict[str, float] = {}
        self._locks: dict[str, anyio.Lock] = {}

    async def find_key(self, client: TrustedClient, kid: str, jku: str | None) -> VerifyKey | None:
        """The key `kid` of `client`, from its inline keys, its `jwks_urls` or an allowed `jku`."""
        key = self._inline_keys(client).get(kid)
        if key is not None:
            return key
        if jku is not None and jku not in client.allowed_jku:
            # The verifier refuses such tokens first; this keeps the cache safe on its own.
            log.warning("jku not allowlisted for client %s; not fetched", client.label)
            return None
        urls = list(dict.fromkeys((*client.jwks_urls, *((jku,) if jku else ()))))
        for url in urls:
            cached = self._sets.get(url)
            if cached is not None and kid in cached.keys and not self._stale(cached):
                return cached.keys[kid]
        for url in urls:
            cached = await self._refresh_if_allowed(url, kid)
            if cached is not None and kid in cached.keys:
                return cached.keys[kid]
        return None

    def _inline_keys(self, client: TrustedClient) -> dict[str, VerifyKey]:
        keys = self._inline.get(client.iss)
        if keys is None:
            keys = {}
            for doc in client.inline_jwk_sets():
                parsed, _ = parse_jwk_set(doc)  # checked strictly when the trust file loaded
                for kid, key in parsed.items():
                    keys.setdefault(kid, key)
            self._inline[client.iss] = keys
        return keys

    def _stale(self, cached: _CachedSet) -> bool:
        return self._clock() - cached.fetched_at >= self._max_age

    def _may_fetch(self, url: str) -> bool:
        last = self._last_attempt.get(url)
        return last is None or self._clock() - last >= self._refetch_interval

    async def _refresh_if_allowed(self, url: str, kid: str) -> _CachedSet | None:
        lock = self._locks.setdefault(url, anyio.Lock())
        async with lock:
            cached = self._sets.get(url)
            # Another request may have refreshed it while we waited for the lock.
            if cached is not None and kid in cached.keys and not self._stale(cached):
                return cached
            if not self._may_fetch(url):
                log.info("jwks refetch of %s skipped: rate limited", url)
                return cached
            self._last_attempt[url] = self._clock()
            try:
                keys = await self._fetch(url)
            except JwksFetchError as exc:
                log.warning("jwks fetch of %s failed: %s", url, exc)
                return cached
            fresh = _CachedSet(keys, self._clock())
            self._sets[url] = fresh
            log.info("jwks fetched from %s: %d key(s)", url, len(keys))
            return fresh

    async def _fetch(self, url: str) -> dict[str, VerifyKey]:
        try:
            with anyio.fail_after(self._timeout):
                body = await self._download(url)
        except TimeoutError:
            raise JwksFetchError(f"no answer within {self._timeout:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
            raise JwksFetchError(f"HTTP error ({type(exc).__name__})") from None
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            raise JwksFetchError("body is not JSON") from None
        try:
            keys, problems = parse_jwk_set(doc)
        except UnusableKey as exc:
            raise JwksFetchError(str(exc)) from None
        for problem in problems:
            log.warning("jwks from %s: key left out: %s", url, problem)
        return keys

    async def _download(self, url: str) -> bytes:
        request = self._http.build_request(
            "GET", url, headers={"Accept": _ACCEPT}, timeout=self._timeout
        )
        response = await self._http.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code != 200:
                raise JwksFetchError(f"status {response.status_code}")
            declared = declared_length(response.headers.get("content-length"))
            if declared is not None and declared > self._max_bytes:
                raise JwksFetchError(f"body larger than {self._max_bytes} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self._max_bytes:
                    raise JwksFetchError(f"body larger than {self._max_bytes} bytes")
            return bytes(body)
        finally:
            await response.aclose()
