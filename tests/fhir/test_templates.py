"""Prefetch token expansion (CDS Hooks 2.0 §Prefetch tokens).

"Prefetch tokens MUST be delimited by {{ and }}, and MUST contain only the qualified path to a
hook context field or one of the following user identifiers: userPractitionerId,
userPractitionerRoleId, userPatientId, or userRelatedPersonId."
"""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from cds_service.cdshooks.request import WireContext, check_context
from cds_service.fhir.templates import expand, token_values
from tests.fhir.helpers import BASE, make_context, make_request


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Patient/{{context.patientId}}", "Patient/pat-123"),
        (
            "Observation?patient={{context.patientId}}&code=http://loinc.org|2601-3",
            "Observation?patient=pat-123&code=http://loinc.org|2601-3",
        ),
        ("{{context.userId}}", "Practitioner/doc-1"),
        ("Practitioner/{{userPractitionerId}}", "Practitioner/doc-1"),
        ("Encounter/{{context.encounterId}}", "Encounter/enc-9"),
        ("Patient/{{ context.patientId }}", "Patient/pat-123"),
        (
            "Condition?patient={{context.patientId}}&clinical-status=active,recurrence",
            "Condition?patient=pat-123&clinical-status=active,recurrence",
        ),
    ],
)
def test_expand(template: str, expected: str) -> None:
    assert expand(template, make_context(encounterId="enc-9")) == expected


@pytest.mark.parametrize(
    ("user_id", "token"),
    [
        ("Practitioner/abc", "userPractitionerId"),
        ("PractitionerRole/abc", "userPractitionerRoleId"),
        ("Patient/abc", "userPatientId"),
        ("RelatedPerson/abc", "userRelatedPersonId"),
    ],
)
def test_user_tokens_come_from_user_id(user_id: str, token: str) -> None:
    context = make_context(userId=user_id)
    assert expand(f"X?_id={{{{{token}}}}}", context) == "X?_id=abc"
    others = {
        "userPractitionerId",
        "userPractitionerRoleId",
        "userPatientId",
        "userRelatedPersonId",
    } - {token}
    for other in others:
        assert expand(f"X?_id={{{{{other}}}}}", context) is None


def test_spec_example_practitioner_role_search() -> None:
    context = make_context(userId="PractitionerRole/123")
    template = (
        "PractitionerRole?_id={{userPractitionerRoleId}}&_include=PractitionerRole:practitioner"
    )
    assert expand(template, context) == (
        "PractitionerRole?_id=123&_include=PractitionerRole:practitioner"
    )


def test_token_without_value_gives_none() -> None:
    assert expand("Encounter/{{context.encounterId}}", make_context()) is None


@pytest.mark.parametrize(
    "template",
    [
        "Patient/{{context.unknown}}",
        "Patient/{{Patient.id}}",  # pre-1.0 syntax
        "MedicationRequest/{{context.draftOrders.entry.resource.id}}",
        "Observation?date=gt{{today() - 90 days}}",  # 3.0 ballot FHIRPath: not in 2.0
        "Patient/{{context.patientId}",
    ],
)
def test_unknown_or_malformed_token_gives_none(template: str) -> None:
    assert expand(template, make_context()) is None


@pytest.mark.parametrize(
    ("patient_id", "segment"),
    [
        ("../../x", "..%2F..%2Fx"),
        ("a&b=c", "a%26b%3Dc"),
        ("a?b#c", "a%3Fb%23c"),
        ("a b", "a%20b"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("ü", "%C3%BC"),
    ],
)
def test_values_are_encoded_as_one_unit(patient_id: str, segment: str) -> None:
    context = make_context(patientId=patient_id)
    read = expand("Patient/{{context.patientId}}", context)
    search = expand("Observation?patient={{context.patientId}}&code=x", context)
    assert read == f"Patient/{segment}"
    assert search == f"Observation?patient={segment}&code=x"
    # What httpx would send keeps the structure: same path, same parameters.
    url = httpx.URL(f"{BASE}/{read}")
    assert url.path.startswith("/r4/Patient/") and url.query == b""
    params = httpx.URL(f"{BASE}/{search}").params
    assert params["patient"] == patient_id and list(params) == ["patient", "code"]


def test_user_id_keeps_its_slash_but_encodes_parts() -> None:
    context = make_context(userId="Practitioner/a&b")
    assert expand("{{context.userId}}", context) == "Practitioner/a%26b"
    assert expand("Practitioner/{{userPractitionerId}}", context) == "Practitioner/a%26b"


def test_patient_prefix_is_stripped_when_the_context_is_checked() -> None:
    request = make_request()
    sent = dataclasses.replace(request, context=WireContext(userId="u", patientId="Patient/7"))
    context = check_context("patient-view", sent)
    assert expand("Patient/{{context.patientId}}", context) == "Patient/7"


def test_token_values() -> None:
    values = token_values(make_context(encounterId="e1"))
    assert values == {
        "context.userId": "Practitioner/doc-1",
        "context.patientId": "pat-123",
        "context.encounterId": "e1",
        "userPractitionerId": "doc-1",
    }
