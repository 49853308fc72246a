"""Per-call plumbing, timed in-process: what a hook call pays besides parsing and the rules.

    python bench/plumbing.py [--size 100] [--number 2000]

Times, in microseconds per call (best of 5 timeit repeats), on one real order-select call's
report (`bench/hotspots.py`'s harness): card rendering (`render_cards`, templates compiled at
start-up), `new_id`, the `hook_call` log line written as JSON to a discarded stream at INFO,
the metrics of one call, and queueing the served-card audit rows. Issue 11 item 4 was judged
with it (numbers in bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import io
import logging
import sys
import timeit
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import hotspots  # noqa: E402
import payloads  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--number", type=int, default=2000)
    args = p.parse_args()
    hotspots._configure_env()
    h = hotspots.Harness()
    logging.disable(logging.NOTSET)

    from cds_service.cards.ids import new_id
    from cds_service.cards.render import render_cards
    from cds_service.hooks import pipeline
    from cds_service.hooks.pipeline import CallReport, parse_context
    from cds_service.observability import logging as cds_logging
    from cds_service.observability.metrics import Metrics
    from cds_service.observability.observer import Observer
    from cds_service.store.db import connect, init_schema
    from cds_service.store.repository import Store

    raw = payloads.dumps(payloads.with_observations(payloads.load(), args.size))
    request = h.decoder.decode(raw)
    context = parse_context(h.service, request)
    report = CallReport()
    seen: list[tuple[object, ...]] = []

    def capture(*a: object, **k: object) -> object:
        seen.append(a)
        return render_cards(*a, **k)  # type: ignore[arg-type]

    pipeline.render_cards = capture  # type: ignore[assignment]
    asyncio.run(h._run(h.engine, h.service, request, context, h.policy,
                       today=datetime.date.today(), report=report))
    pipeline.render_cards = render_cards
    findings, inp = list(seen[0][0]), seen[0][1]  # type: ignore[call-overload]

    sink = io.StringIO()
    cds_logging.configure_logging("INFO", json=True)
    cds_logging_stream(sink)
    observer = Observer(Metrics())
    engine = connect(f"sqlite:///{Path(hotspots.tempfile.mkdtemp()) / 'p.db'}")
    init_schema(engine)
    store = Store(engine)

    def call_log() -> None:
        observer.hook_call(service_id=h.service.id, status=200, duration_seconds=0.0123,
                           hook_instance=request.hookInstance, report=report)

    def metrics_only() -> None:
        observer._count_call(h.service.id, 200, 0.0123, report)

    def queue() -> None:
        store.queue_served(h.service.id, request.hookInstance, report.cards, silent=report.silent)
        store.audit._pending.clear()

    timed = {
        "new_id": new_id,
        "hook_call (log line + metrics)": call_log,
        "metrics of one call": metrics_only,
        "queue_served": queue,
        "render_cards": lambda: render_cards(findings, inp, h.engine.catalog, max_cards=10),
    }
    width = max(map(len, timed))
    for name, fn in timed.items():
        best = min(timeit.repeat(fn, number=args.number, repeat=5)) / args.number
        print(f"{name:<{width}}  {best * 1e6:8.2f} us")
    print(f"({len(report.cards)} cards, {len(sink.getvalue().splitlines())} log lines written)")
    return 0


def cds_logging_stream(stream: io.StringIO) -> None:
    """Send the service's log lines to `stream` (not the terminal)."""
    sys.stderr = stream


if __name__ == "__main__":
    sys.exit(main())
