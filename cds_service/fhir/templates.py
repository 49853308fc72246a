"""Prefetch template expansion (CDS Hooks 2.0 §Prefetch tokens).

    expand("Patient/{{context.patientId}}", ctx)                 -> "Patient/123"
    expand("Practitioner/{{userPractitionerId}}", ctx)           -> "Practitioner/abc"
    expand("Encounter/{{context.encounterId}}", ctx_without_enc) -> None (can't be fetched)

Every value is percent-encoded as one opaque unit, so a patientId of "../../x" or "a&b=c" can't
change the URL's path or query structure.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from cds_service.cdshooks.request import HookContext

_TOKEN = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}")

_CONTEXT_FIELDS = ("userId", "patientId", "encounterId")
# The spec's user-identifier tokens, derived from the type prefix of `context.userId`.
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


def token_values(context: HookContext) -> dict[str, str]:
    """Each token that has a value in this call, unencoded."""
    values: dict[str, str] = {}
    for name in _CONTEXT_FIELDS:
        value = getattr(context, name, None)
        if isinstance(value, str) and value:
            values[f"context.{name}"] = value
    resource_type, _, user_id = context.userId.partition("/")
    for token, wanted in _USER_TOKENS.items():
        if resource_type == wanted and user_id and "/" not in user_id:
            values[token] = user_id
    return values


def _encode(value: str) -> str:
    encoded = quote(value, safe="")
    # "." and ".." would be removed as dot segments by URL normalisation: keep them opaque.
    if encoded.strip(".") == "":
        encoded = encoded.replace(".", "%2E")
    return encoded


def expand(template: str, context: HookContext) -> str | None:
    """Substitute every token; None if a token is unknown or has no value in this call.

    `{{context.userId}}` is a relative reference ("Practitioner/abc"), so its "/" is kept:
    the type and id are encoded separately.
    """
    values = token_values(context)
    missing = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        value = values.get(name)
        if value is None:
            missing = True
            return ""
        if name == "context.userId":
            return "/".join(_encode(part) for part in value.split("/", 1))
        return _encode(value)

    expanded = _TOKEN.sub(substitute, template)
    if missing or "{{" in expanded or "}}" in expanded:
        return None
    return expanded
