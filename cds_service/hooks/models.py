"""CDS Hooks 2.0 request models: the hook call envelope and each hook's context.

Parsed once at the API edge. Unknown fields (and `extension`) are ignored, as the spec asks;
FHIR content inside `context` and `prefetch` stays raw JSON here and is read field by field
further down, where only what the rules use is touched.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

HookName = Literal["patient-view", "order-select", "order-sign"]

_ID_MAX = 256
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class FhirAuthorization(_Lenient):
    """OAuth 2.0 bearer token the EHR lends for this one call. Never logged or stored."""

    access_token: SecretStr = Field(min_length=1, max_length=16_384)
    token_type: str = Field(max_length=32)
    expires_in: int | None = None
    scope: str | None = Field(None, max_length=8_192)
    subject: str | None = Field(None, max_length=_ID_MAX)
    patient: str | None = Field(None, max_length=_ID_MAX)

    @field_validator("access_token")
    @classmethod
    def _header_safe(cls, value: SecretStr) -> SecretStr:
        # It goes into an Authorization header: visible ASCII only (RFC 6750's b64token is a
        # subset). Anything else could not be sent, and would fail deep in the FHIR client.
        if not _VISIBLE_ASCII.fullmatch(value.get_secret_value()):
            raise ValueError("access_token must be visible ASCII characters only")
        return value

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        if value.lower() != "bearer":
            raise ValueError("token_type must be 'Bearer'")
        return "Bearer"


class HookRequest(_Lenient):
    """The body of `POST /cds-services/{id}`."""

    hook: str = Field(min_length=1, max_length=128)
    hookInstance: str = Field(min_length=1, max_length=_ID_MAX)
    fhirServer: str | None = Field(None, max_length=2_048)
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    # Pre-1.0 clients (and the HL7 PDDI examples) put the user at the top level.
    legacy_user_id: str | None = Field(None, alias="userId", max_length=_ID_MAX)
    legacy_user: str | None = Field(None, alias="user", max_length=_ID_MAX)

    @field_validator("fhirServer")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("fhirServer must be an absolute http(s) URL")
        return value.rstrip("/")


class HookContext(_Lenient):
    """Fields common to patient-view, order-select and order-sign (all three: userId, patientId)."""

    userId: str = Field(min_length=1, max_length=_ID_MAX)
    patientId: str = Field(min_length=1, max_length=_ID_MAX)
    encounterId: str | None = Field(None, max_length=_ID_MAX)

    @field_validator("patientId")
    @classmethod
    def _bare_patient_id(cls, value: str) -> str:
        # Some clients send "Patient/123" where the spec asks for the bare id.
        return value.removeprefix("Patient/")


class PatientViewContext(HookContext):
    """patient-view 1.0: the chart was opened."""


class OrderSignContext(HookContext):
    """order-sign 1.1: the orders in `draftOrders` are about to be signed."""

    draftOrders: dict[str, Any]

    @field_validator("draftOrders")
    @classmethod
    def _bundle(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("resourceType") != "Bundle":
            raise ValueError("draftOrders must be a FHIR Bundle")
        entries = value.get("entry", [])
        if not isinstance(entries, list):
            raise ValueError("draftOrders.entry must be an array")
        return value


class OrderSelectContext(OrderSignContext):
    """order-select 1.0: `selections` name the newly chosen orders inside `draftOrders`."""

    selections: list[str] = Field(max_length=1_000)


CONTEXT_MODELS: dict[str, type[HookContext]] = {
    "patient-view": PatientViewContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
}
