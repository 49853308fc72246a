"""Reading FHIR payloads: entries of a Bundle, its `next` link, error payloads.

Payloads arrive as `cdshooks.resources.Resource` views (the request's prefetch, decoded at the
edge, and the FHIR server's answers, decoded by the client), so their shapes are known; what
is left to judge is content: a resource without a type, an entry without a resource.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from cds_service.cdshooks.resources import Resource, listed


def is_resource(value: object, resource_type: str | None = None) -> TypeGuard[dict[str, Any]]:
    """A JSON object with a string `resourceType` (of the given type, if one is named): for
    the readers that work on the JSON form (draft orders, Medications)."""
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return False
    return resource_type is None or value["resourceType"] == resource_type


def _is_error_outcome(outcome: Resource) -> bool:
    """An OperationOutcome reports an error unless every issue is a warning or information."""
    issues = listed(outcome.issue)
    if not issues:
        return True
    return any(issue.severity not in ("warning", "information") for issue in issues)


def entry_resources(bundle: Resource) -> tuple[list[Resource], list[Resource]]:
    """(resources, operation outcomes) from `entry[].resource`; entries without a typed
    resource are skipped."""
    resources: list[Resource] = []
    outcomes: list[Resource] = []
    for entry in listed(bundle.entry):
        resource = entry.resource
        if resource is not None and resource.resourceType is not None:
            is_outcome = resource.resourceType == "OperationOutcome"
            (outcomes if is_outcome else resources).append(resource)
    return resources, outcomes


def split_payload(value: Resource) -> tuple[list[Resource], bool]:
    """(resources, failed) of a prefetch or search payload, reading its entries once.

    CDS Hooks 2.0: an OperationOutcome, or a Bundle of OperationOutcomes, means "failed". A
    Bundle with real resources besides them is data (outcomes there are search warnings), and
    so is one whose only outcomes are warnings (an empty search that says why). A Bundle of any
    type gives its entry resources minus outcomes; any other resource gives itself.
    """
    if value.resourceType == "OperationOutcome":
        return [], True
    if value.resourceType != "Bundle":
        return [value], False
    resources, outcomes = entry_resources(value)
    return resources, not resources and any(_is_error_outcome(o) for o in outcomes)


def next_link(bundle: Resource) -> str | None:
    """The URL of `link[relation=next]`, if the Bundle has one."""
    if bundle.resourceType != "Bundle":
        return None
    for link in listed(bundle.link):
        if link.relation == "next" and link.url and link.url.strip():
            return link.url.strip()
    return None
