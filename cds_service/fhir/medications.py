"""Resolve `medicationReference` of medication orders to Medication resources.

Epic and others send `MedicationRequest.medicationReference` instead of a coded concept; the
drug is then only known from the referenced Medication. Contained ("#id") references are left
to the clinical layer (pure); everything else is looked up in what prefetch already gave us,
then fetched from `fhirServer` (same base only). Unresolvable references are simply absent
from the map, and the clinical layer falls back to the reference's `display`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cds_service.cdshooks.request import HookRequest
from cds_service.cdshooks.resources import as_json
from cds_service.clinical.medications import ORDER_TYPES
from cds_service.fhir.access import FhirAccessPolicy
from cds_service.fhir.bundles import is_resource
from cds_service.fhir.client import FhirClient
from cds_service.fhir.errors import FhirAccessDenied, FhirError
from cds_service.fhir.fetching import Collected, Fetcher, FetchLimits, FhirCall, open_access

log = logging.getLogger(__name__)

MAX_LOOKUPS = 100  # distinct Medications fetched per call; a huge draft must not fan out
_CONCURRENCY = 10
_ID = r"[A-Za-z0-9\-.]{1,64}"  # FHIR id: also keeps "/" and ".." out of fetched paths
_RELATIVE = re.compile(rf"Medication/({_ID})(?:/_history/{_ID})?")
_FHIR_ID = re.compile(_ID)


@dataclass(frozen=True, slots=True)
class _Ref:
    key: str  # "Medication/<id>"
    path: str  # relative to the base: "Medication/<id>" or ".../_history/<vid>"


def parse_reference(reference: str, base: str | None, policy: FhirAccessPolicy) -> _Ref | None:
    """`Medication/1`, `Medication/1/_history/2` or `{base}/Medication/1` -> key and path.

    None for contained (`#id`), other types, ids that aren't FHIR ids, and absolute URLs off
    the request's base: a Medication/1 on another server is not our Medication/1.
    """
    text = reference.strip()
    if "://" in text:
        if base is None:
            return None
        try:
            policy.check_url(text, base)
        except FhirAccessDenied:
            return None
        # check_url proved the path is under the base path: keep what follows it.
        text = urlsplit(text).path[len(urlsplit(base).path.rstrip("/")) :].lstrip("/")
    match = _RELATIVE.fullmatch(text)
    return _Ref(f"Medication/{match.group(1)}", match.group(0)) if match else None


def medication_index(known: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Index `Medication/<id>` -> Medication over resources we already hold (first wins)."""
    index: dict[str, dict[str, Any]] = {}
    for resource in known:
        if is_resource(resource, "Medication"):
            rid = resource.get("id")
            if isinstance(rid, str) and _FHIR_ID.fullmatch(rid):
                index.setdefault(f"Medication/{rid}", resource)
    return index


def _references(
    resources: Iterable[dict[str, Any]], base: str | None, policy: FhirAccessPolicy
) -> dict[str, _Ref]:
    refs: dict[str, _Ref] = {}
    for resource in resources:
        if not is_resource(resource) or resource["resourceType"] not in ORDER_TYPES:
            continue
        holder = resource.get("medicationReference")
        reference = holder.get("reference") if isinstance(holder, dict) else None
        if isinstance(reference, str) and not reference.startswith("#"):
            ref = parse_reference(reference, base, policy)
            if ref is not None:
                refs.setdefault(ref.key, ref)
    return refs


async def resolve_medication_references(
    resources: Iterable[dict[str, Any]],
    *,
    known: Iterable[dict[str, Any]],
    client: FhirClient,
    request: HookRequest,
    policy: FhirAccessPolicy,
    limits: FetchLimits,
) -> dict[str, dict[str, Any]]:
    """Map each non-contained Medication reference of the orders to its Medication, if found."""
    refs = _references(resources, request.fhirServer, policy)
    if not refs:
        return {}
    index = medication_index(known)
    found = {key: index[key] for key in refs if key in index}
    missing = [ref for key, ref in refs.items() if key not in found]
    if len(missing) > MAX_LOOKUPS:
        log.info("Medication lookups capped: %d of %d fetched", MAX_LOOKUPS, len(missing))
        missing = missing[:MAX_LOOKUPS]
    if missing:
        found.update(await _fetch(missing, client, request, policy, limits))
    return found


async def _fetch(
    refs: list[_Ref],
    client: FhirClient,
    request: HookRequest,
    policy: FhirAccessPolicy,
    limits: FetchLimits,
) -> dict[str, dict[str, Any]]:
    collected = {ref.key: Collected() for ref in refs}
    calls: list[FhirCall] = []
    gate = asyncio.Semaphore(_CONCURRENCY)
    try:
        async with asyncio.timeout(limits.deadline):
            try:
                access = await open_access(request, policy)
            except FhirError as exc:
                log.info("Medication references not fetched: %s", exc)
                return {}
            fetcher = Fetcher.for_call(client, access, policy, limits, calls)

            async def one(ref: _Ref) -> None:
                async with gate:
                    await fetcher.collect(
                        f"{access.base}/{ref.path}",
                        collected[ref.key],
                        key="medication",
                        resource_type="Medication",
                    )

            async with asyncio.TaskGroup() as group:
                for ref in refs:
                    group.create_task(one(ref))
    except TimeoutError:
        log.info("Medication references: overall FHIR deadline exceeded")
    out: dict[str, dict[str, Any]] = {}
    for key, item in collected.items():
        if item.resources and item.resources[0].resourceType == "Medication":
            out[key] = as_json(item.resources[0])
    return out
