"""Reading FHIR payloads defensively: entries of a Bundle, its `next` link, error payloads.

Prefetch values and server answers are untrusted JSON: `entry` may not be a list, an entry may
not be an object. Such parts are skipped, never raised on.
"""

from __future__ import annotations

from typing import Any, TypeGuard


def is_resource(value: object, resource_type: str | None = None) -> TypeGuard[dict[str, Any]]:
    """A JSON object with a string `resourceType` (of the given type, if one is named)."""
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return False
    return resource_type is None or value["resourceType"] == resource_type


def _is_error_outcome(outcome: dict[str, Any]) -> bool:
    """An OperationOutcome reports an error unless every issue is a warning or information."""
    issues = outcome.get("issue")
    if not isinstance(issues, list) or not issues:
        return True
    return any(
        not isinstance(issue, dict) or issue.get("severity") not in ("warning", "information")
        for issue in issues
    )


def entry_resources(bundle: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(resources, operation outcomes) from `entry[].resource`; malformed entries skipped."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return [], []
    resources: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if is_resource(resource):  # checked once per entry, then sorted by its type
            is_outcome = resource["resourceType"] == "OperationOutcome"
            (outcomes if is_outcome else resources).append(resource)
    return resources, outcomes


def split_payload(value: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """(resources, failed) of a prefetch or search payload, reading its entries once.

    CDS Hooks 2.0: an OperationOutcome, or a Bundle of OperationOutcomes, means "failed". A
    Bundle with real resources besides them is data (outcomes there are search warnings), and
    so is one whose only outcomes are warnings (an empty search that says why). A Bundle of any
    type gives its entry resources minus outcomes; any other resource gives itself.
    """
    if is_resource(value, "OperationOutcome"):
        return [], True
    if not is_resource(value, "Bundle"):
        return [value], False
    resources, outcomes = entry_resources(value)
    return resources, not resources and any(_is_error_outcome(o) for o in outcomes)



def next_link(bundle: dict[str, Any]) -> str | None:
    """The URL of `link[relation=next]`, if the Bundle has one."""
    links = bundle.get("link")
    if not is_resource(bundle, "Bundle") or not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url.strip():
                return url.strip()
    return None
