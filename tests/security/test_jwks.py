"""JwksCache: only configured URLs, bounded fetches, rotation followed, rate limited."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, RSAKey

from cds_service.security.jwks import JwksCache
from cds_service.security.trust import TrustedClient
from tests.security.conftest import Clock
from tests.security.helpers import EHR_ISS, EHR_JKU, EHR_JWKS_URL, public_jwks

URL = EHR_JWKS_URL


@pytest.fixture
def client() -> TrustedClient:
    return TrustedClient(iss=EHR_ISS, jwks_urls=(URL,), allowed_jku=(EHR_JKU,))


@pytest.fixture
def cache(http: httpx.AsyncClient, clock: Clock) -> JwksCache:
    return JwksCache(http, clock=clock, max_bytes=20_000)


@pytest.fixture
def k1() -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": "k1"})


@pytest.fixture
def k2() -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": "k2"})


async def test_fetch_once_then_cached(
    cache: JwksCache, client: TrustedClient, k1: ECKey, mock_http: respx.MockRouter
) -> None:
    route = mock_http.get(URL).respond(json=public_jwks(k1))
    for _ in range(3):
        key = await cache.find_key(client, "k1", None)
        assert key is not None and key.thumbprint() == k1.thumbprint()
    assert route.call_count == 1
    request = route.calls[0].request
    assert "authorization" not in request.headers and "cookie" not in request.headers


async def test_rotation_is_followed_within_the_rate_limit(
    cache: JwksCache,
    client: TrustedClient,
    k1: ECKey,
    k2: ECKey,
    clock: Clock,
    mock_http: respx.MockRouter,
) -> None:
    route = mock_http.get(URL).respond(json=public_jwks(k1))
    assert await cache.find_key(client, "k1", None) is not None
    # The EHR publishes k2 next to k1 and starts signing with it.
    route.respond(json=public_jwks(k1, k2))
    assert await cache.find_key(client, "k2", None) is None  # inside the 60 s window: no fetch
    assert route.call_count == 1
    clock.value += 61
    assert await cache.find_key(client, "k2", None) is not None  # one refetch
    assert route.call_count == 2
    assert await cache.find_key(client, "nope", None) is None  # rate limited again
    assert route.call_count == 2


async def test_unknown_kids_cost_one_request_per_window(
    cache: JwksCache, client: TrustedClient, k1: ECKey, clock: Clock, mock_http: respx.MockRouter
) -> None:
    route = mock_http.get(URL).respond(json=public_jwks(k1))
    await asyncio.gather(*(cache.find_key(client, f"made-up-{n}", None) for n in range(50)))
    assert route.call_count == 1
    clock.value += 30
    await cache.find_key(client, "made-up-x", None)
    assert route.call_count == 1
    clock.value += 31
    await cache.find_key(client, "made-up-y", None)
    assert route.call_count == 2


async def test_refetch_interval_is_configurable(
    http: httpx.AsyncClient, client: TrustedClient, clock: Clock, mock_http: respx.MockRouter
) -> None:
    cache = JwksCache(http, clock=clock, refetch_interval=5)
    route = mock_http.get(URL).respond(json={"keys": []})
    await cache.find_key(client, "a", None)
    clock.value += 5
    await cache.find_key(client, "b", None)
    assert route.call_count == 2


async def test_jku_outside_allowlist_is_never_fetched(
    cache: JwksCache, client: TrustedClient, mock_http: respx.MockRouter
) -> None:
    assert await cache.find_key(client, "k1", "https://evil.example.com/jwks") is None
    assert await cache.find_key(client, "k1", "http://169.254.169.254/latest/meta-data") is None
    assert not mock_http.calls


async def test_allowed_jku_is_fetched(
    cache: JwksCache, client: TrustedClient, k1: ECKey, mock_http: respx.MockRouter
) -> None:
    mock_http.get(URL).respond(json={"keys": []})
    jku = mock_http.get(EHR_JKU).respond(json=public_jwks(k1))
    assert await cache.find_key(client, "k1", EHR_JKU) is not None
    assert jku.call_count == 1


async def test_redirects_are_not_followed(
    cache: JwksCache, client: TrustedClient, mock_http: respx.MockRouter
) -> None:
    mock_http.get(URL).respond(302, headers={"Location": "http://169.254.169.254/"})
    target = mock_http.get("http://169.254.169.254/").respond(json={"keys": []})
    assert await cache.find_key(client, "k1", None) is None
    assert not target.called


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500),
        httpx.Response(404, json={"keys": []}),
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json=["not", "a", "set"]),
        httpx.Response(200, json={"keys": "nope"}),
        httpx.Response(200, content=b"[" * 10_000),
        httpx.Response(200, json={"keys": [{"kty": "EC"}] * 200}),
    ],
    ids=["500", "404", "html", "array", "keys-not-list", "deep", "too-many-keys"],
)
async def test_bad_answers_give_no_keys(
    cache: JwksCache,
    client: TrustedClient,
    response: httpx.Response,
    mock_http: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    mock_http.get(URL).mock(return_value=response)
    assert await cache.find_key(client, "k1", None) is None
    assert "jwks fetch" in caplog.text


async def test_body_size_is_capped(
    cache: JwksCache, client: TrustedClient, k1: ECKey, mock_http: respx.MockRouter
) -> None:
    body = json.dumps({"keys": [k1.as_dict(private=False)], "pad": "x" * 30_000}).encode()
    mock_http.get(URL).respond(200, content=body)
    assert await cache.find_key(client, "k1", None) is None


async def test_body_size_cap_without_content_length(
    cache: JwksCache, client: TrustedClient, mock_http: respx.MockRouter
) -> None:
    async def endless() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 1_000

    mock_http.get(URL).mock(return_value=httpx.Response(200, content=endless()))
    assert await cache.find_key(client, "k1", None) is None


async def test_timeouts_and_network_errors_give_no_keys(
    cache: JwksCache, client: TrustedClient, clock: Clock, mock_http: respx.MockRouter
) -> None:
    route = mock_http.get(URL).mock(side_effect=httpx.ConnectTimeout("slow"))
    assert await cache.find_key(client, "k1", None) is None
    assert await cache.find_key(client, "k1", None) is None  # and failures are rate limited too
    assert route.call_count == 1
    clock.value += 61
    route.mock(side_effect=httpx.ConnectError("down"))
    assert await cache.find_key(client, "k1", None) is None
    assert route.call_count == 2


async def test_a_slow_drip_is_cut_off(
    http: httpx.AsyncClient, client: TrustedClient, mock_http: respx.MockRouter
) -> None:
    async def drip() -> AsyncIterator[bytes]:
        for _ in range(100):
            await asyncio.sleep(0.05)
            yield b" "

    cache = JwksCache(http, timeout=0.2)
    mock_http.get(URL).mock(return_value=httpx.Response(200, content=drip()))
    assert await cache.find_key(client, "k1", None) is None


async def test_last_good_set_survives_a_failed_refresh(
    http: httpx.AsyncClient,
    client: TrustedClient,
    k1: ECKey,
    clock: Clock,
    mock_http: respx.MockRouter,
) -> None:
    cache = JwksCache(http, clock=clock, max_age=600)
    route = mock_http.get(URL).respond(json=public_jwks(k1))
    assert await cache.find_key(client, "k1", None) is not None
    clock.value += 601  # stale: the next use refreshes
    route.respond(503)
    assert await cache.find_key(client, "k1", None) is not None
    assert route.call_count == 2


async def test_a_withdrawn_key_stops_working_after_max_age(
    http: httpx.AsyncClient,
    client: TrustedClient,
    k1: ECKey,
    k2: ECKey,
    clock: Clock,
    mock_http: respx.MockRouter,
) -> None:
    cache = JwksCache(http, clock=clock, max_age=600)
    route = mock_http.get(URL).respond(json=public_jwks(k1))
    assert await cache.find_key(client, "k1", None) is not None
    route.respond(json=public_jwks(k2))
    clock.value += 601
    assert await cache.find_key(client, "k1", None) is None


async def test_odd_keys_in_a_fetched_set_are_skipped(
    cache: JwksCache,
    client: TrustedClient,
    k1: ECKey,
    mock_http: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    private = ECKey.generate_key("P-384", parameters={"kid": "priv"}).as_dict(private=True)
    with pytest.warns(SecurityWarning):
        small_rsa = RSAKey.generate_key(1024, parameters={"kid": "small"}, private=False)
    keys = [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        private,
        small_rsa.as_dict(private=False),
        {**k1.as_dict(private=False), "kid": "enc", "use": "enc"},
        k1.as_dict(private=False),
        {**k1.as_dict(private=False), "x": "AAAA"},  # a duplicate kid: first one wins
        {**k1.as_dict(private=False), "kid": "crv", "crv": ["P-384"]},  # found by fuzzing
    ]
    mock_http.get(URL).respond(json={"keys": keys})
    assert await cache.find_key(client, "k1", None) is not None
    for kid in ("hmac", "priv", "small", "enc", "crv"):
        assert await cache.find_key(client, kid, None) is None
    assert "key left out" in caplog.text


async def test_an_odd_content_length_is_not_trusted(
    cache: JwksCache, client: TrustedClient, k1: ECKey, mock_http: respx.MockRouter
) -> None:
    """str.isdigit() accepts '²' (superscript two), which int() refuses."""
    body = json.dumps({"keys": [k1.as_dict(private=False)]}).encode()
    mock_http.get(URL).respond(200, content=body, headers={"Content-Length": "\u00b2".encode()})
    assert await cache.find_key(client, "k1", None) is not None


async def test_inline_keys_need_no_network(
    cache: JwksCache, k1: ECKey, mock_http: respx.MockRouter
) -> None:
    inline = TrustedClient(iss=EHR_ISS, jwks=public_jwks(k1))
    assert await cache.find_key(inline, "k1", None) is not None
    assert await cache.find_key(inline, "k9", None) is None
    assert not mock_http.calls
