"""In-process cost of one hook call, stage by stage, without HTTP; optional cProfile hotspots.

    python bench/hotspots.py                          # median ms per stage, 10/100/1000 Observations
    python bench/hotspots.py --cprofile 1000 --top 25 # where the time goes at 1,000 Observations
    python bench/hotspots.py --json                   # machine-readable (bench/bench.py uses this)

Stages, as the route runs them (cds_service/api/services.py `call_service`):
  parse     the typed decode of the body (msgspec Structs)            (cdshooks/request.py)
  validate  the hook and its context fields                           (hooks/pipeline.py)
  pipeline  run_hook: prefetch resolution, facts, rules, cards        (hooks/pipeline.py)
  respond   CdsResponse.to_json + orjson.dumps
The HTTP layer (uvicorn, Starlette), logging, metrics and the served-card write are not included:
the gap between this and the server's CPU time per request is theirs.

The service is configured like the benchmark's (CDS_* set below unless already set); gc is frozen
after start-up as the app's lifespan does.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime
import gc
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import payloads  # noqa: E402

SERVICE_ID = "muscle-cramps-order-select"


def _configure_env() -> None:
    db = Path(tempfile.mkdtemp(prefix="cds-profile-")) / "profile.db"
    defaults = {
        "CDS_PROFILE": "development",
        "CDS_AUTH_REQUIRED": "false",
        "CDS_DATABASE_URL": f"sqlite:///{db}",
        "CDS_LOG_LEVEL": "WARNING",
        "CDS_FHIR_ALLOW_UNAUTHENTICATED": "true",
        "CDS_FHIR_ALLOW_PRIVATE_ADDRESSES": "true",
        "CDS_FHIR_ALLOWED_HOSTS": "127.0.0.1",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


class Harness:
    """The service's own objects, built the way create_app builds them."""

    def __init__(self) -> None:
        import logging

        from cds_service.app import build_engine
        from cds_service.fhir.access import FhirAccessPolicy
        from cds_service.hooks.pipeline import CallReport, parse_context, run_hook
        from cds_service.hooks.registry import build_registry
        from cds_service.settings import load_settings

        logging.disable(logging.WARNING)
        self.settings = load_settings()
        self.engine = build_engine(self.settings)
        registry = build_registry(self.engine.terminology.observation_query_codes())
        self.service = registry.get(SERVICE_ID)
        self.decoder = registry.decoder
        self.policy = FhirAccessPolicy(
            allowed_bases=None,
            allowed_hosts=tuple(self.settings.fhir_allowed_hosts),
            allow_private=self.settings.fhir_allow_private_addresses,
            allow_unauthenticated=self.settings.fhir_allow_unauthenticated,
        )
        self._context = parse_context
        self._new_report = CallReport
        self._run = run_hook

    async def call(self, raw: bytes, times: dict[str, list[float]] | None = None) -> bytes:
        import orjson

        t0 = time.perf_counter()
        request = self.decoder.decode(raw)
        t1 = time.perf_counter()
        context = self._context(self.service, request)
        t2 = time.perf_counter()
        response = await self._run(
            self.engine, self.service, request, context, self.policy,
            today=datetime.date.today(), report=self._new_report(),
        )
        t3 = time.perf_counter()
        out = orjson.dumps(response.to_json())
        t4 = time.perf_counter()
        if times is not None:
            times["parse"].append(t1 - t0)
            times["validate"].append(t2 - t1)
            times["pipeline"].append(t3 - t2)
            times["respond"].append(t4 - t3)
        return out


async def _measure(h: Harness, bodies: dict[int, bytes], iterations: int) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for n, raw in bodies.items():
        for _ in range(min(20, iterations)):
            await h.call(raw)
        times: dict[str, list[float]] = {k: [] for k in ("parse", "validate", "pipeline", "respond")}
        for _ in range(iterations if n <= 100 else max(20, iterations // 5)):
            await h.call(raw, times)
        stages = {k: statistics.median(v) * 1000 for k, v in times.items()}
        stages["total"] = sum(stages.values())
        out[n] = stages
    return out


async def _profile(h: Harness, raw: bytes, iterations: int, top: int) -> str:
    for _ in range(10):
        await h.call(raw)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        await h.call(raw)
    profiler.disable()
    import io

    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def main() -> int:
    p = argparse.ArgumentParser(description="In-process hook call cost (no HTTP)")
    p.add_argument("--sizes", default="10,100,1000")
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--cprofile", type=int, metavar="SIZE", help="cProfile the call at SIZE")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    _configure_env()
    base = payloads.load()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    bodies = {n: payloads.dumps(payloads.with_observations(base, n)) for n in sizes}
    h = Harness()
    gc.collect()
    gc.freeze()
    if args.cprofile:
        raw = payloads.dumps(payloads.with_observations(base, args.cprofile))
        print(asyncio.run(_profile(h, raw, args.iterations, args.top)))
        return 0
    results = asyncio.run(_measure(h, bodies, args.iterations))
    if args.json:
        print(json.dumps({str(k): v for k, v in results.items()}))
        return 0
    print("| Observations | parse ms | validate ms | pipeline ms | respond ms | total ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, s in results.items():
        print(f"| {n:,} | {s['parse']:.2f} | {s['validate']:.2f} | {s['pipeline']:.2f} | "
              f"{s['respond']:.2f} | {s['total']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
