"""Issue 14, item 3: an allowlisted FHIR server that misbehaves. Decoded size and JSON values
are bounded while the answer streams in (gzip bombs, floods of tiny entries), a parse never
holds the event loop long, and a hook call keeps its deadline whatever the server sends."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import orjson
import pytest

from cds_service.app import create_app
from cds_service.fhir.client import MAX_VALUES_PER_RESPONSE, FhirClient, JsonBudget
from cds_service.fhir.errors import FhirResponseInvalid, FhirUnavailable
from cds_service.settings import Settings
from tests.builders import hook_request, medication_request, service_url

BASE = "https://fhir.example.org/r4"
URL = f"{BASE}/Observation?patient=pat-123"


def gzipped(pieces: Iterator[bytes]) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(packer.compress(p) for p in pieces) + packer.flush()


def tiny_entries(megabytes: int) -> Iterator[bytes]:
    """`{"resourceType":"Bundle","entry":[{},{},...]}`: 3 bytes per Python dict."""
    yield b'{"resourceType":"Bundle","type":"searchset","entry":['
    block = b"{}," * 350_000
    for _ in range(megabytes):
        yield block
    yield b"{}]}"


def zeros(megabytes: int) -> Iterator[bytes]:
    yield b'{"resourceType":"Basic","text":"'
    block = b"0" * 1_000_000
    for _ in range(megabytes):
        yield block
    yield b'"}'


@pytest.fixture(scope="module")
def entry_flood() -> bytes:
    """The issue's case: ~19 MB of `{}` entries, about 20 kB gzipped."""
    return gzipped(tiny_entries(18))


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """200 MB of zeros in ~200 kB (the issue's 2 GiB one works the same, only slower to build)."""
    return gzipped(zeros(200))


class Dripping(httpx.AsyncByteStream):
    """The body in network-sized pieces, optionally slowly."""

    def __init__(self, data: bytes, *, chunk: int = 65536, delay: float = 0.0) -> None:
        self.data, self.chunk, self.delay = data, chunk, delay

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield self.data[start : start + self.chunk]


def serving(
    data: bytes, *, gzip: bool = True, delay: float = 0.0, chunk: int = 65536
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "application/fhir+json"}
        if gzip:
            headers["Content-Encoding"] = "gzip"
        return httpx.Response(200, headers=headers, stream=Dripping(data, chunk=chunk, delay=delay))

    return httpx.MockTransport(handler)


async def loop_gaps(stop: asyncio.Event) -> float:
    """The longest time the event loop went without running this ticker."""
    worst, last = 0.0, time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        worst, last = max(worst, now - last), now
    return worst


async def fetch_measured(client: FhirClient, **kwargs: object) -> tuple[BaseException | None, float, float]:
    """(error, peak traced MB, worst event-loop gap in s) of one fetch."""
    stop = asyncio.Event()
    ticker = asyncio.create_task(loop_gaps(stop))
    tracemalloc.start()
    error: BaseException | None = None
    try:
        await client.fetch(URL, token=None, timeout=5.0, **kwargs)  # type: ignore[arg-type]
    except Exception as exc:
        error = exc
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stop.set()
    return error, peak / 1e6, await ticker


async def test_a_flood_of_tiny_entries_is_refused_while_it_streams(entry_flood: bytes) -> None:
    """Parsed, 19 MB of `{}` took RSS from 107 to 747 MiB and stalled the loop for 2 s."""
    assert len(entry_flood) < 100_000
    client = FhirClient.create(5.0, transport=serving(entry_flood))
    error, peak_mb, gap = await fetch_measured(client)
    await client.aclose()
    assert isinstance(error, FhirResponseInvalid) and "JSON values" in str(error)
    assert peak_mb < 30, f"peak {peak_mb:.0f} MB"
    assert gap < 0.5, f"event loop held for {gap * 1000:.0f} ms"


async def test_a_gzip_bomb_is_refused_after_the_byte_limit(gzip_bomb: bytes) -> None:
    client = FhirClient.create(5.0, transport=serving(gzip_bomb), max_bytes=2_000_000)
    error, peak_mb, gap = await fetch_measured(client)
    await client.aclose()
    assert isinstance(error, FhirResponseInvalid) and "too large" in str(error)
    assert peak_mb < 12, f"peak {peak_mb:.0f} MB"  # httpx alone inflates a 64 kB read at once
    assert gap < 0.5


async def test_an_answer_within_the_bounds_still_parses() -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"resource": {"resourceType": "Observation", "id": str(i)}} for i in range(500)]}
    for gzip in (True, False):
        raw = orjson.dumps(bundle)
        data = gzipped(iter([raw])) if gzip else raw
        client = FhirClient.create(5.0, transport=serving(data, gzip=gzip))
        reply = await client.fetch(URL, token=None, timeout=5.0)
        await client.aclose()
        assert isinstance(reply.body.entry, list) and len(reply.body.entry) == 500


async def test_the_largest_parse_allowed_is_short() -> None:
    """An answer just under the per-answer value cap is parsed; the loop is held briefly.
    (`{},` counts twice, brace and comma: the count is an upper bound.)"""
    n = MAX_VALUES_PER_RESPONSE // 2 - 1_000
    raw = b'{"resourceType":"Bundle","entry":[' + b",".join([b"{}"] * n) + b"]}"
    client = FhirClient.create(5.0, transport=serving(gzipped(iter([raw]))))
    error, _, gap = await fetch_measured(client)
    await client.aclose()
    assert error is None
    assert gap < 0.75, f"event loop held for {gap * 1000:.0f} ms"


async def test_one_call_shares_one_value_budget() -> None:
    raw = b'{"resourceType":"Bundle","entry":[' + b",".join([b"{}"] * 70_000) + b"]}"
    client = FhirClient.create(5.0, transport=serving(raw, gzip=False))
    budget = JsonBudget(200_000)  # each answer counts ~140,000
    await client.fetch(URL, token=None, timeout=5.0, budget=budget)
    with pytest.raises(FhirResponseInvalid, match="JSON values"):
        await client.fetch(URL, token=None, timeout=5.0, budget=budget)
    # Concurrent answers spend it as they stream: they cannot each take the whole.
    budget = JsonBudget(200_000)
    outcomes = await asyncio.gather(
        *(client.fetch(URL, token=None, timeout=5.0, budget=budget) for _ in range(3)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, FhirResponseInvalid) for o in outcomes) >= 2
    await client.aclose()


async def test_an_unknown_content_encoding_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "br"}, stream=Dripping(b"{}"))

    client = FhirClient.create(5.0, transport=httpx.MockTransport(handler))
    with pytest.raises(FhirResponseInvalid, match="Content-Encoding"):
        await client.fetch(URL, token=None, timeout=5.0)
    await client.aclose()


async def test_a_dripping_server_is_cut_off_at_the_timeout() -> None:
    slow = serving(b'{"resourceType":"Basic"}' * 100, gzip=False, delay=0.2, chunk=100)
    client = FhirClient.create(0.5, transport=slow)
    started = time.perf_counter()
    with pytest.raises(FhirUnavailable, match="timed out"):
        await client.fetch(URL, token=None, timeout=0.5)
    assert time.perf_counter() - started < 1.5
    await client.aclose()


@pytest.mark.parametrize("payload", ["entry_flood", "gzip_bomb", "drip"])
async def test_concurrent_hook_calls_keep_their_deadline(
    payload: str,
    request: pytest.FixtureRequest,
    settings_factory: Callable[..., Settings],
) -> None:
    """Three calls at once against a hostile server: each answers (412: the data could not be
    had) within the deadline plus a margin, and /health/live stays quick meanwhile."""
    data = b'{"resourceType":"Basic"}' * 10_000 if payload == "drip" else request.getfixturevalue(payload)
    drip = payload == "drip"
    transport = serving(data, gzip=not drip, delay=0.3 if drip else 0.0, chunk=1000 if drip else 65536)
    settings = settings_factory(
        fhir_allow_unauthenticated=True, request_deadline_seconds=1.0, fhir_timeout_seconds=1.0
    )
    app = create_app(settings, fhir_transport=transport)
    body = hook_request("order-sign", prefetch=False, fhir_server=BASE,
                        drafts=[medication_request("9071", "quinine sulfate 324 MG")])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:

        async def call() -> tuple[int, float]:
            started = time.perf_counter()
            response = await http.post(service_url("order-sign"), json=body)
            return response.status_code, time.perf_counter() - started

        async def probe_health() -> float:
            worst = 0.0
            for _ in range(10):
                started = time.perf_counter()
                assert (await http.get("/health/live")).status_code == 200
                worst = max(worst, time.perf_counter() - started)
                await asyncio.sleep(0.05)
            return worst

        results = await asyncio.gather(call(), call(), call(), probe_health())
    calls, health = results[:3], results[3]
    assert [status for status, _ in calls] == [412, 412, 412]  # type: ignore[misc]
    assert max(seconds for _, seconds in calls) < 2.5, calls  # type: ignore[misc]
    assert health < 0.5, f"/health/live took {health * 1000:.0f} ms"  # type: ignore[operator]
