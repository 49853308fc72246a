"""Prometheus metrics, on a registry each app owns (tests build many apps in one process).

With several worker processes (`serve --workers N`), each worker counts into its own files in
one directory (prometheus_client's multiprocess mode, `PROMETHEUS_MULTIPROC_DIR`, set up by
`shared_between_workers`), and `/metrics`, whichever worker answers it, sums them all: every
call is counted once, not once per worker that happened to be scraped. The load gauges and
counters (`watch_load`: connections, calls in flight, shed, throttled) stay the answering
worker's own.

Labels are bounded sets: service ids from the registry (unknown ids are folded into
`unknown`), HTTP statuses, rule ids, indicators, prefetch keys from our templates, FHIR resource
types and the FHIR client's outcome words. Never a patient, a user or a hookInstance.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# CDS Hooks asks for ~500 ms answers; resolve finely below a second, coarsely above.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 4.0, 8.0)
_FHIR_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)

M = TypeVar("M", bound=MetricWrapperBase)


class Metrics:
    """Every metric the service exports, registered on its own `CollectorRegistry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._load: _LoadCollector | None = None
        self._bound: dict[tuple[MetricWrapperBase, tuple[str, ...]], MetricWrapperBase] = {}
        r = self.registry
        self.hook_calls = Counter(
            "cds_hook_calls", "Hook calls answered, by service and HTTP status.",
            ["service", "status"], registry=r,
        )
        self.hook_latency = Histogram(
            "cds_hook_call_duration_seconds", "Time to answer a hook call.",
            ["service", "status"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.cards = Counter(
            "cds_cards", "Cards returned, by rule and indicator.",
            ["rule", "indicator"], registry=r,
        )
        self.prefetch = Counter(
            "cds_prefetch_keys", "Prefetch keys by how the data was had: "
            "supplied by the client, fetched by us, null (known empty) or failed.",
            ["key", "outcome"], registry=r,
        )
        self.fhir_latency = Histogram(
            "cds_fhir_request_duration_seconds",
            "FHIR requests made to fill missing prefetch, by resource type.",
            ["resource_type"], buckets=_FHIR_BUCKETS, registry=r,
        )
        self.fhir_errors = Counter(
            "cds_fhir_errors", "FHIR requests that did not yield data, by reason.",
            ["reason"], registry=r,
        )
        self.feedback = Counter(
            "cds_feedback", "Feedback items stored (re-sent items count once), by rule and "
            "outcome; rule `unknown` for cards with no served record.",
            ["rule", "outcome"], registry=r,
        )

    def bound(self, metric: M, *labels: str) -> M:
        """`metric.labels(*labels)`, looked up once per label set and kept: `.labels` checks
        and locks on every call. The label sets are bounded (see above), so is this cache."""
        key = (metric, labels)
        child = self._bound.get(key)
        if child is None:
            child = self._bound[key] = metric.labels(*labels)
        return child  # type: ignore[return-value]

    def watch_load(self, read: Callable[[], LoadSnapshot]) -> None:
        """Export the hostile-load counters (api/connections, api/admission, the feedback rate
        limit), read at scrape time: the hot paths only bump plain integers."""
        self._load = _LoadCollector(read)
        self.registry.register(self._load)

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format and its content type: every worker's counts, summed."""
        directory = os.environ.get(MULTIPROCESS_DIR)
        if not directory:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        merged = CollectorRegistry(auto_describe=True)
        MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
        if self._load is not None:  # this worker's own load gauges and counters
            merged.register(self._load)
        return generate_latest(merged), CONTENT_TYPE_LATEST


@dataclass(frozen=True, slots=True)
class LoadSnapshot:
    """Plain numbers from the load limits; label values are fixed names, never caller data."""

    connections_open: int = 0
    limit_events: dict[str, int] = field(default_factory=dict)
    calls_in_flight: int = 0
    calls_queued: int = 0
    calls_shed: dict[str, int] = field(default_factory=dict)
    feedback_throttled: int = 0


class _LoadCollector(Collector):
    def __init__(self, read: Callable[[], LoadSnapshot]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        snap = self._read()
        yield GaugeMetricFamily(
            "cds_http_connections", "Open HTTP connections (when served by cds-service serve).",
            value=snap.connections_open,
        )
        events = CounterMetricFamily(
            "cds_http_limit_events", "Times an HTTP-layer limit bit, by limit: idle_timeout, "
            "header_timeout, body_timeout, header_too_large, too_many_headers, "
            "connection_evicted, connection_refused, invalid_http, closed_unread_body.",
            labels=["limit"],
        )
        for name, count in sorted(snap.limit_events.items()):
            events.add_metric([name], count)
        yield events
        yield GaugeMetricFamily(
            "cds_calls_in_flight", "Hook and feedback calls running now.",
            value=snap.calls_in_flight,
        )
        yield GaugeMetricFamily(
            "cds_calls_queued", "Calls waiting for a free slot now.", value=snap.calls_queued
        )
        shed = CounterMetricFamily(
            "cds_calls_shed", "Calls refused with 503 under overload, by reason: backlog (on "
            "arrival: the calls let in already fill the concurrency and queue), stale (waited "
            "longer than CDS_QUEUE_TIMEOUT_SECONDS to be read), queue_full (no room to wait), "
            "queue_timeout (no slot within CDS_QUEUE_TIMEOUT_SECONDS of arriving).",
            labels=["reason"],
        )
        for reason, count in sorted(snap.calls_shed.items()):
            shed.add_metric([reason], count)
        yield shed
        yield CounterMetricFamily(
            "cds_feedback_throttled", "Feedback POSTs refused with 429 (rate limit).",
            value=snap.feedback_throttled,
        )


@contextmanager
def shared_between_workers(workers: int) -> Iterator[None]:
    """Multiprocess mode for the workers started inside this block (they inherit the variable
    and read it when they import prometheus_client). A fresh directory each start, removed at
    the end, as the mode requires; one the operator set is used as it is."""
    if workers < 2 or os.environ.get(MULTIPROCESS_DIR):
        yield
        return
    directory = tempfile.mkdtemp(prefix="cds-metrics-")
    os.environ[MULTIPROCESS_DIR] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_DIR, None)
        shutil.rmtree(directory, ignore_errors=True)
