"""Prefetch resolution (CDS Hooks 2.0 §Prefetch): what the client sent, and fetching the rest.

Per key, in the order the spec describes the prefetch values (decoded at the edge: a value
that is not an object or null was already refused there):

    resource or Bundle    -> "supplied"  (a Bundle's `next` pages are fetched when possible)
    null                  -> "null"      (the client knows there is no data: no query)
    OperationOutcome      -> refetch from fhirServer, else "failed"
    absent / no resourceType -> fetch from fhirServer, else "failed"

All fetches of one call run concurrently under one overall deadline. "failed" keys carry a
short reason without PHI; the caller decides whether that is a 412.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from cds_service.cdshooks.request import HookContext, HookRequest
from cds_service.cdshooks.resources import Resource
from cds_service.fhir.access import FhirAccessPolicy
from cds_service.fhir.bundles import next_link, split_payload
from cds_service.fhir.client import FhirClient
from cds_service.fhir.errors import FhirError
from cds_service.fhir.fetching import (
    Collected,
    Fetcher,
    FetchLimits,
    FhirCall,
    deadline_error,
    open_access,
    resource_type_of,
)
from cds_service.fhir.templates import expand

__all__ = ["FetchLimits", "FhirCall", "KeyData", "KeyStatus", "PrefetchResult", "resolve_prefetch"]

KeyStatus = Literal["supplied", "fetched", "null", "failed"]

@dataclass(frozen=True, slots=True)
class KeyData:
    """The outcome for one prefetch key. `reason` explains failures and partial data; no PHI."""

    status: KeyStatus
    resources: tuple[Resource, ...] = ()
    reason: str | None = None


@dataclass(slots=True)
class PrefetchResult:
    """Every templated key (in template order) and every FHIR call made for them."""

    keys: dict[str, KeyData] = field(default_factory=dict)
    calls: list[FhirCall] = field(default_factory=list)


@dataclass(slots=True)
class _Job:
    """A key that needs the FHIR server: a fresh fetch, or the next pages of a supplied Bundle."""

    key: str
    success: KeyStatus
    target: str | None  # template expansion (relative) or a `next` link; None: can't expand
    resource_type: str | None
    collected: Collected = field(default_factory=Collected)
    note: str | None = None


async def resolve_prefetch(
    templates: Mapping[str, str],
    request: HookRequest,
    context: HookContext,
    client: FhirClient,
    policy: FhirAccessPolicy,
    limits: FetchLimits,
) -> PrefetchResult:
    """Resolve each key of `templates`; keys the request sent but we didn't ask for are ignored."""
    result = PrefetchResult()
    supplied: Mapping[str, Resource | None] = request.prefetch or {}
    jobs: list[_Job] = []
    for key, template in templates.items():
        planned = _plan(key, template, supplied, context, limits)
        if isinstance(planned, KeyData):
            result.keys[key] = planned
        else:
            jobs.append(planned)
    if jobs:
        await _run(jobs, request, client, policy, limits, result.calls)
        result.keys.update((job.key, _finish(job)) for job in jobs)
    result.keys = {key: result.keys[key] for key in templates}
    return result


def _plan(
    key: str,
    template: str,
    supplied: Mapping[str, Resource | None],
    context: HookContext,
    limits: FetchLimits,
) -> KeyData | _Job:
    resource_type = resource_type_of(template)
    note = None
    if key in supplied:
        value = supplied[key]
        if value is None:
            return KeyData("null")
        resources, failed = split_payload(value) if value.resourceType else ([], False)
        if failed:
            note = "prefetch value was an OperationOutcome"
        elif value.resourceType:
            collected = Collected(pages=1)
            complete = collected.add(resources, limits.max_entries_per_key)
            link = next_link(value)
            if link is None or not complete:
                reason = "; ".join(collected.notes) or None
                return KeyData("supplied", tuple(collected.resources), reason)
            return _Job(key, "supplied", link, resource_type, collected)
        else:
            note = "prefetch value was an object without resourceType, not a FHIR resource"
    return _Job(key, "fetched", expand(template, context), resource_type, note=note)


async def _run(
    jobs: list[_Job],
    request: HookRequest,
    client: FhirClient,
    policy: FhirAccessPolicy,
    limits: FetchLimits,
    calls: list[FhirCall],
) -> None:
    runnable = [job for job in jobs if job.target is not None]
    if not runnable:
        return
    try:
        async with asyncio.timeout(limits.deadline):
            try:
                access = await open_access(request, policy)
            except FhirError as exc:
                for job in runnable:
                    job.collected.error = exc
                return
            fetcher = Fetcher.for_call(client, access, policy, limits, calls)
            async with asyncio.TaskGroup() as group:
                for job in runnable:
                    group.create_task(
                        fetcher.collect(
                            _start_url(job, access.base),
                            job.collected,
                            key=job.key,
                            resource_type=job.resource_type,
                        )
                    )
    except TimeoutError:
        for job in runnable:
            if not job.collected.done and job.collected.error is None:
                job.collected.error = deadline_error()


def _start_url(job: _Job, base: str) -> str:
    """A template is relative to the base; a `next` link is absolute (the fetcher joins it)."""
    return job.target if job.success == "supplied" and job.target else f"{base}/{job.target}"


def _finish(job: _Job) -> KeyData:
    notes = [job.note] if job.note else []
    if job.target is None:
        notes.append("the template has a token with no value in this call")
        return KeyData("failed", (), "; ".join(notes))
    collected = job.collected
    error = collected.error
    if error is None and not collected.done:
        error = deadline_error()
    if collected.pages == 0:
        notes.append(f"not fetched: {error}")
        return KeyData("failed", (), "; ".join(notes))
    notes.extend(collected.notes)
    if error is not None:
        notes.append(f"incomplete: {error}")
    return KeyData(job.success, tuple(collected.resources), "; ".join(notes) or None)
