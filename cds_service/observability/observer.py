"""What the API reports about each hook call and feedback POST: one log line, and metrics.

The API calls `hook_call` in a `finally` block, so it must never raise: a failure here is
logged and swallowed rather than turning an answer into a 500. Only ids, keys, counts and
timings are logged: no patient id, no FHIR URL, no token.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from cds_service.observability.logging import log_event
from cds_service.observability.metrics import Metrics
from cds_service.observability.redaction import loggable_id

PREFETCH_STATUSES = ("supplied", "fetched", "null", "failed")
UNKNOWN = "unknown"
_MAX_CALLS_LOGGED = 50
_ID_MAX = 128


class HookReport(Protocol):
    """What `observer.hook_call` reads from `hooks.pipeline.CallReport`."""

    @property
    def rule_ids(self) -> Sequence[str]: ...
    @property
    def cards(self) -> Sequence[Any]: ...  # cards.render.RenderedCard: .rule_id, .card.indicator
    @property
    def prefetch(self) -> Any: ...  # fhir.prefetch.PrefetchResult | None
    @property
    def fhir_ms(self) -> float: ...


class Observer:
    """Turns call reports into one structured log line each and the matching metrics."""

    def __init__(self, metrics: Metrics | None = None, logger_name: str = "cds_service.calls"):
        self.metrics = metrics
        self.log = logging.getLogger(logger_name)

    def hook_call(
        self,
        *,
        service_id: str,
        status: int,
        duration_seconds: float,
        hook_instance: str | None,
        report: HookReport | None,
        known_service: bool | None = None,
    ) -> None:
        """Log event `hook_call` and update metrics. Never raises.

        `known_service`: whether the id from the URL is one of ours (None: judge by the status,
        404 meaning unknown). An unknown id is the caller's text: logged as a digest, counted
        as `unknown`."""
        try:
            known = status != 404 if known_service is None else known_service
            level = logging.WARNING if status >= 500 else logging.INFO
            if self.log.isEnabledFor(level):  # else no fields to build
                fields = hook_call_fields(
                    service_id, status, duration_seconds, hook_instance, report,
                    known_service=known,
                )
                log_event(self.log, level, "hook_call", fields)
            if self.metrics is not None:
                self._count_call(service_id if known else UNKNOWN, status, duration_seconds, report)
        except Exception as exc:  # observability must not break the answer
            self.log.warning("could not report a hook call: %s", type(exc).__name__)

    def feedback(self, service_id: str, items_by_rule: Sequence[tuple[str | None, str]]) -> None:
        """Log event `feedback` and count each stored item by (rule, outcome). Never raises."""
        try:
            by_outcome = Counter(outcome for _, outcome in items_by_rule)
            rules = sorted({rule or UNKNOWN for rule, _ in items_by_rule})
            self.log.info("feedback", extra={
                "service": service_id[:_ID_MAX],
                "stored": len(items_by_rule),
                "outcomes": dict(sorted(by_outcome.items())),
                "rules": rules,
            })
            if self.metrics is not None:
                for rule, outcome in items_by_rule:
                    self.metrics.bound(self.metrics.feedback, rule or UNKNOWN, outcome).inc()
        except Exception as exc:
            self.log.warning("could not report feedback: %s", type(exc).__name__)

    def _count_call(
        self, service_id: str, status: int, seconds: float, report: HookReport | None
    ) -> None:
        assert self.metrics is not None
        m = self.metrics
        bound = m.bound
        # An unknown id comes from the caller: as a label it would grow the series without bound.
        service = UNKNOWN if status == 404 else service_id
        code = str(status)
        bound(m.hook_calls, service, code).inc()
        bound(m.hook_latency, service, code).observe(seconds)
        if report is None:
            return
        for rendered in getattr(report, "cards", None) or ():
            card = getattr(rendered, "card", None)
            bound(
                m.cards, getattr(rendered, "rule_id", UNKNOWN), getattr(card, "indicator", UNKNOWN)
            ).inc()
        prefetch = getattr(report, "prefetch", None)
        for key, data in (getattr(prefetch, "keys", None) or {}).items():
            bound(m.prefetch, key, getattr(data, "status", UNKNOWN)).inc()
        for call in getattr(prefetch, "calls", None) or ():
            outcome = getattr(call, "outcome", UNKNOWN)
            if outcome != "denied":  # refused before any request: no latency to speak of
                bound(m.fhir_latency, getattr(call, "resource_type", None) or UNKNOWN).observe(
                    float(getattr(call, "ms", 0.0)) / 1000
                )
            if outcome != "ok":
                bound(m.fhir_errors, outcome).inc()


def hook_call_fields(
    service_id: str,
    status: int,
    duration_seconds: float,
    hook_instance: str | None,
    report: HookReport | None,
    *,
    known_service: bool | None = None,
) -> dict[str, Any]:
    """The `hook_call` log line's fields: ids, keys, counts and timings only."""
    known = status != 404 if known_service is None else known_service
    fields: dict[str, Any] = {
        "hookInstance": loggable_id(hook_instance) if hook_instance else None,
        # Not one of ours: an id from the caller's URL, shown like any caller-chosen id
        "service": service_id[:_ID_MAX] if known else loggable_id(service_id),
        "status": status,
        "duration_ms": round(duration_seconds * 1000, 1),
        "rules": [],
        "cards": 0,
        "prefetch": {status_: [] for status_ in PREFETCH_STATUSES},
        "fhir_calls": [],
        "fhir_ms": None,
    }
    if report is None:
        return fields
    fields["rules"] = list(dict.fromkeys(getattr(report, "rule_ids", None) or ()))
    fields["cards"] = len(getattr(report, "cards", None) or ())
    fhir_ms = getattr(report, "fhir_ms", None)
    fields["fhir_ms"] = round(fhir_ms, 1) if isinstance(fhir_ms, (int, float)) else None
    prefetch = getattr(report, "prefetch", None)
    for key, data in (getattr(prefetch, "keys", None) or {}).items():
        fields["prefetch"].setdefault(getattr(data, "status", UNKNOWN), []).append(key)
    calls = list(getattr(prefetch, "calls", None) or ())
    fields["fhir_calls"] = [_call_fields(call) for call in calls[:_MAX_CALLS_LOGGED]]
    if len(calls) > _MAX_CALLS_LOGGED:
        fields["fhir_calls_omitted"] = len(calls) - _MAX_CALLS_LOGGED
    return fields


def _call_fields(call: Any) -> dict[str, Any]:
    ms = getattr(call, "ms", None)
    return {
        "key": getattr(call, "key", None),
        "resource_type": getattr(call, "resource_type", None),
        "status_code": getattr(call, "status_code", None),
        "ms": round(ms, 1) if isinstance(ms, (int, float)) else None,
        "outcome": getattr(call, "outcome", None),
    }
