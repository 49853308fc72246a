"""Build a CDS Hooks request from patient resources and draft orders, as an EHR would.

The prefetch is filled from the service's OWN templates (hooks/registry.py, expanded with the
same token code the service uses), each query answered by the in-memory FHIR evaluator, so the
request carries exactly what a conformant EHR would send. Three variants:

- "full": every key prefetched (a read that finds nothing is left out, as the spec allows);
- "none": no prefetch: the service must query `fhirServer` itself;
- "null": every key null ("the EHR knows there is no data").
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from cds_service.cdshooks.hooks import HookName
from cds_service.cdshooks.request import HookContext
from cds_service.clinical.terminology import get_terminology
from cds_service.fhir.templates import expand
from cds_service.hooks.registry import Registry, Service, build_registry
from cds_service.tools.bundles import Resource
from cds_service.tools.fhir_memory import MemoryFhir

PrefetchMode = Literal["full", "none", "null"]
DEFAULT_FHIR_SERVER = "https://fhir.example.org/r4"
DEFAULT_USER = "Practitioner/example"


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """How to shape the request (everything but the patient data and the orders)."""

    hook: HookName = "order-select"
    prefetch: PrefetchMode = "full"
    fhir_server: str | None = None  # "none" uses DEFAULT_FHIR_SERVER when not given
    fhir_token: str | None = None
    user_id: str = DEFAULT_USER
    encounter_id: str | None = None
    selections: Sequence[str] | None = None  # order-select; None: every draft order


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The service registry exactly as the app builds it (same terminology, same templates)."""
    return build_registry(get_terminology().observation_query_codes())


def prepare_drafts(orders: Sequence[Resource], patient_id: str) -> list[Resource]:
    """Copies of the draft orders with an id and a patient reference (drafts need both:
    `selections` name them, the rules read their subject)."""
    drafts = []
    for index, order in enumerate(orders, start=1):
        draft = copy.deepcopy(order)
        if not isinstance(draft.get("id"), str) or not draft["id"]:
            draft["id"] = f"draft-{index}"
        field = "patient" if draft.get("resourceType") == "MedicationOrder" else "subject"
        draft.setdefault(field, {"reference": f"Patient/{patient_id}"})
        drafts.append(draft)
    return drafts


def draft_orders_bundle(drafts: Sequence[Resource]) -> Resource:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": d} for d in drafts]}  # fmt: skip


def fill_prefetch(
    service: Service, context: HookContext, fhir: MemoryFhir
) -> dict[str, Resource | None]:
    """Each template expanded and answered; keys the EHR can't answer are left out."""
    prefetch: dict[str, Resource | None] = {}
    for key, template in service.prefetch.items():
        query = expand(template, context)
        if query is None:
            continue
        result = fhir.run(query)
        if result is not None:
            prefetch[key] = result
    return prefetch


def build_request(
    resources: Sequence[Resource],
    orders: Sequence[Resource],
    patient_id: str,
    options: RequestOptions = RequestOptions(),
) -> dict[str, Any]:
    """A ready hook request: context, fresh hookInstance, prefetch per `options.prefetch`."""
    service = registry().for_hook(options.hook)
    context: dict[str, Any] = {"userId": options.user_id, "patientId": patient_id}
    if options.encounter_id:
        context["encounterId"] = options.encounter_id
    if options.hook != "patient-view":
        drafts = prepare_drafts(orders, patient_id)
        context["draftOrders"] = draft_orders_bundle(drafts)
        if options.hook == "order-select":
            context["selections"] = (
                list(options.selections)
                if options.selections is not None
                else [f"{d['resourceType']}/{d['id']}" for d in drafts]
            )
    body: dict[str, Any] = {
        "hookInstance": str(uuid.uuid4()),
        "hook": options.hook,
        "context": context,
    }
    server = options.fhir_server
    if options.prefetch == "none":
        server = server or DEFAULT_FHIR_SERVER
    if server:
        body["fhirServer"] = server.rstrip("/")
    if server and options.fhir_token:
        body["fhirAuthorization"] = {
            "access_token": options.fhir_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Observation.read user/MedicationRequest.read "
            "user/Condition.read user/Medication.read",
            "subject": "cds-service",
        }
    if options.prefetch == "null":
        body["prefetch"] = {key: None for key in service.prefetch}
    elif options.prefetch == "full":
        hook_context = HookContext(
            userId=context["userId"],
            patientId=context["patientId"],
            encounterId=context.get("encounterId"),
        )
        body["prefetch"] = fill_prefetch(service, hook_context, MemoryFhir(resources))
    return body
