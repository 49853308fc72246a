"""Builders for the FHIR layer tests: requests, contexts, policies and FHIR payloads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cds_service.cdshooks.request import (
    FhirAuthorization,
    HookContext,
    HookRequest,
    Secret,
    WireContext,
)
from cds_service.cdshooks.resources import Resource, view
from cds_service.fhir.access import FhirAccessPolicy
from cds_service.fhir.prefetch import FetchLimits

BASE = "https://fhir.example.org/r4"
TOKEN = "s3cr3t-access-token"
PATIENT_ID = "pat-123"


def make_policy(**overrides: Any) -> FhirAccessPolicy:
    values: dict[str, Any] = {
        "allowed_bases": None,
        "allowed_hosts": ("fhir.example.org",),
        "allow_private": False,
        "allow_unauthenticated": False,
    }
    values.update(overrides)
    return FhirAccessPolicy(**values)


def make_limits(**overrides: Any) -> FetchLimits:
    values: dict[str, Any] = {
        "per_call_timeout": 1.0,
        "deadline": 2.0,
        "max_pages": 10,
        "max_entries_per_key": 1000,
    }
    values.update(overrides)
    return FetchLimits(**values)


def make_context(**overrides: Any) -> HookContext:
    values: dict[str, Any] = {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID}
    values.update(overrides)
    return HookContext(**values)


_DEFAULT = object()


def make_request(
    prefetch: dict[str, Any] | None = None,
    *,
    fhir_server: str | None = BASE,
    token: str | None | object = _DEFAULT,
) -> HookRequest:
    """A decoded request as the FHIR layer receives it: `prefetch` values as resource views
    (what is not an object or null is refused by the decoder, tests/api)."""
    token = TOKEN if token is _DEFAULT else token
    authorization = None
    if token is not None:
        authorization = FhirAuthorization(
            access_token=Secret(str(token)),
            token_type="Bearer",
            expires_in=300,
            scope="user/Patient.read user/Observation.read",
            subject="cds-service",
        )
    return HookRequest(
        hook="patient-view",
        hookInstance="d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        context=WireContext(userId="Practitioner/doc-1", patientId=PATIENT_ID),
        fhirServer=fhir_server,
        fhirAuthorization=authorization,
        prefetch=None if prefetch is None else {
            key: None if value is None else view(value) for key, value in prefetch.items()
        },
    )


def patient(pid: str = PATIENT_ID) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": "1950-01-01"}


def searchset(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def observation(oid: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final"}


def outcome(severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": "processing"}],
    }


def ids(resources: Iterable[Resource]) -> list[str | None]:
    """The ids of resource views, to compare what a key holds."""
    return [resource.id for resource in resources]
