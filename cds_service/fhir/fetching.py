"""Fetching from the EHR's FHIR server within one hook call: may we, and read all pages.

Shared by prefetch fallback and Medication lookups. Nothing here raises a `FhirError` out of
`collect`; failures are recorded so that several keys can be fetched side by side.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin

from cds_service.cdshooks.request import HookRequest
from cds_service.cdshooks.resources import Resource
from cds_service.fhir.access import FhirAccessPolicy
from cds_service.fhir.bundles import next_link, split_payload
from cds_service.fhir.client import DEFAULT_CALL_VALUES, FhirClient, JsonBudget
from cds_service.fhir.errors import (
    FhirAccessDenied,
    FhirError,
    FhirResponseInvalid,
    FhirStatusError,
    FhirUnavailable,
)

Outcome = Literal["ok", "status", "unavailable", "invalid", "denied", "deadline"]


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Bounds on fallback fetching. `max_pages` counts `next` pages followed per key;
    `max_json_values` bounds what one fetching phase of a call (prefetch keys, or Medication
    look-ups) reads in all (see fhir/client.py)."""

    per_call_timeout: float
    deadline: float
    max_pages: int
    max_entries_per_key: int
    max_json_values: int = DEFAULT_CALL_VALUES


@dataclass(frozen=True, slots=True)
class FhirCall:
    """One GET we made (or refused to make), for logs and metrics. No URL: it holds PHI."""

    key: str
    resource_type: str | None
    status_code: int | None
    ms: float
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class FhirAccess:
    """Where and how this call may fetch: the checked base and the EHR's token (if any)."""

    base: str
    token: str | None = field(repr=False)


async def open_access(request: HookRequest, policy: FhirAccessPolicy) -> FhirAccess:
    """Check that fetching is possible; raise a `FhirError` whose text says why not."""
    if not request.fhirServer:
        raise FhirAccessDenied("the request has no fhirServer")
    auth = request.fhirAuthorization
    if auth is None and not policy.allow_unauthenticated:
        raise FhirAccessDenied("the request has no fhirAuthorization")
    await policy.check_base_async(request.fhirServer)
    token = auth.access_token.get_secret_value() if auth is not None else None
    return FhirAccess(base=request.fhirServer, token=token)


def _outcome(exc: FhirError) -> Outcome:
    if isinstance(exc, FhirStatusError):
        return "status"
    if isinstance(exc, FhirAccessDenied):
        return "denied"
    if isinstance(exc, FhirResponseInvalid):
        return "invalid"
    return "unavailable"


@dataclass(slots=True)
class Collected:
    """What one key (or one reference) has gathered so far; read even after a deadline."""

    resources: list[Resource] = field(default_factory=list)
    pages: int = 0
    notes: list[str] = field(default_factory=list)
    error: FhirError | None = None
    done: bool = False

    def add(self, resources: list[Resource], max_entries: int) -> bool:
        """Append; False (with a note) once `max_entries` is reached and the rest is dropped."""
        room = max_entries - len(self.resources)
        self.resources.extend(resources[: max(room, 0)])
        if len(resources) > room:
            self.notes.append(f"truncated to {max_entries} entries")
            return False
        return True


@dataclass(frozen=True, slots=True)
class Fetcher:
    """Everything needed to GET pages for one hook call."""

    client: FhirClient
    access: FhirAccess
    policy: FhirAccessPolicy
    limits: FetchLimits
    calls: list[FhirCall]
    budget: JsonBudget = field(default_factory=JsonBudget)

    @classmethod
    def for_call(
        cls,
        client: FhirClient,
        access: FhirAccess,
        policy: FhirAccessPolicy,
        limits: FetchLimits,
        calls: list[FhirCall],
    ) -> Fetcher:
        """A fetcher with a fresh JSON budget of `limits.max_json_values`."""
        return cls(client, access, policy, limits, calls, JsonBudget(limits.max_json_values))

    async def collect(
        self, url: str, into: Collected, *, key: str, resource_type: str | None
    ) -> None:
        """Read absolute `url` and follow `next` links into `into`, within the limits.

        Relative `next` links are resolved against the base; every URL must pass `check_url`.
        """
        next_url: str | None = url
        followed = 0
        try:
            while next_url is not None:
                next_url = self._join(next_url)
                if into.pages > 0:
                    if followed >= self.limits.max_pages:
                        into.notes.append(f"stopped after {self.limits.max_pages} next pages")
                        break
                    followed += 1
                body = await self._get(next_url, key=key, resource_type=resource_type)
                resources, failed = split_payload(body)
                if failed:
                    raise FhirResponseInvalid("the server answered with an OperationOutcome")
                into.pages += 1
                if not into.add(resources, self.limits.max_entries_per_key):
                    break
                next_url = next_link(body)
        except FhirError as exc:
            into.error = exc
        into.done = True  # not reached when the deadline cancels us mid-way

    def _join(self, url: str) -> str:
        """Resolve a relative link against the base; server-supplied text may not parse."""
        try:
            return urljoin(self.access.base + "/", url)
        except ValueError as exc:
            raise FhirAccessDenied("a next link could not be parsed") from exc

    async def _get(self, url: str, *, key: str, resource_type: str | None) -> Resource:
        started = time.perf_counter()
        status: int | None = None
        outcome: Outcome = "ok"
        try:
            checked = self.policy.check_url(url, self.access.base)
            reply = await self.client.fetch(
                checked,
                token=self.access.token,
                timeout=self.limits.per_call_timeout,
                resource_type=resource_type,
                budget=self.budget,
            )
            status = reply.status_code
            return reply.body  # a typed resource: the client refuses anything else
        except FhirError as exc:
            status = getattr(exc, "status_code", None)
            outcome = _outcome(exc)
            raise
        except asyncio.CancelledError:
            outcome = "deadline"
            raise
        finally:
            ms = (time.perf_counter() - started) * 1000
            self.calls.append(FhirCall(key, resource_type, status, ms, outcome))


def deadline_error() -> FhirUnavailable:
    return FhirUnavailable("the overall FHIR deadline was exceeded")


def resource_type_of(template: str) -> str | None:
    """The type a template reads: `Observation?patient=...` -> Observation. Never an id."""
    head = template.split("?", 1)[0].split("/", 1)[0]
    return head if head[:1].isupper() and head.isalnum() else None
