"""One hook call from bytes to response: the one request path.

    decode (cdshooks.request) -> service -> hook and context check -> run_hook (prefetch,
    facts, rules, cards) -> CdsResponse

The HTTP route (`api/services.py`), `cds-service evaluate` and the scenario runner all call
`answer_call`; they differ only in where the bytes come from, which service and FHIR access
policy apply, and the clock they pass in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from cds_service.cdshooks.request import HookRequest
from cds_service.cdshooks.response import CdsResponse
from cds_service.fhir.access import FhirAccessPolicy
from cds_service.hooks.pipeline import CallReport, Engine, parse_context, run_hook
from cds_service.hooks.registry import Registry


def utc_today() -> date:
    """The production clock: today's date in UTC."""
    return datetime.now(UTC).date()


async def answer_call(
    engine: Engine,
    registry: Registry,
    raw: bytes,
    *,
    service_id: str | None,
    policy: Callable[[HookRequest], FhirAccessPolicy],
    today: date,
    report: CallReport,
) -> CdsResponse:
    """Answer one hook call body for `service_id` (None: the service of the request's hook).
    Raises CdsError (400, 404, 412...) saying what went wrong."""
    chosen = registry.get(service_id) if service_id is not None else None
    request = registry.decoder.decode(raw)
    report.hook_instance = request.hookInstance
    chosen = chosen or registry.for_hook(request.hook)
    report.service_id = chosen.id
    context = parse_context(chosen, request)
    return await run_hook(
        engine, chosen, request, context, policy(request), today=today, report=report
    )
