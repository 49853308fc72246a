"""The hook call as decoded at the edge: one pass over the bytes, straight into typed values.

`RequestDecoder.decode(raw)` is the only way a hook call's body is read (the HTTP route,
`cds-service evaluate`, the scenario runner and `cds-service validate` all use it). The wire
Structs below hold what the service uses; everything else is skipped by the decoder without
being built, so the body is parsed less than a plain `json.loads` would, and the Structs'
shape bounds the nesting the service ever sees. A decoding error is a 400 naming the first
wrong field by its JSON path, never its value.

The result is plain: `HookRequest` (its prefetch as resource views) and `HookContext` (its
`draftOrders` as the JSON the order reader takes: only the fields read).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, cast

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

from cds_service.cdshooks.hooks import HOOKS
from cds_service.cdshooks.resources import Resource, error_where
from cds_service.errors import BadRequest, RequestTooDeep

_ID_MAX = 256
Id = Annotated[str, Meta(min_length=1, max_length=_ID_MAX)]
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
MAX_SELECTIONS = 1_000


class Secret:
    """A bearer token: never in a repr, a log line or an error message."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class FhirAuthorization(Struct, frozen=True):
    """OAuth 2.0 bearer token the EHR lends for this one call. Never logged or stored."""

    access_token: Secret
    token_type: Annotated[str, Meta(max_length=32)]
    expires_in: int | None = None
    scope: Annotated[str, Meta(max_length=8_192)] | None = None
    subject: Annotated[str, Meta(max_length=_ID_MAX)] | None = None
    patient: Annotated[str, Meta(max_length=_ID_MAX)] | None = None

    def __post_init__(self) -> None:
        if self.token_type.lower() != "bearer":
            raise ValueError("token_type must be 'Bearer'")


class WireContext(Struct, frozen=True):
    """The context fields of every hook we answer; each hook's required ones: `HOOKS`."""

    userId: Id | None = None
    patientId: Id | None = None
    encounterId: Annotated[str, Meta(max_length=_ID_MAX)] | None = None
    draftOrders: Resource | None = None
    selections: list[Annotated[str, Meta(max_length=2_048)]] | None = None


class WireRequest(Struct, frozen=True):
    """The body of `POST /cds-services/{id}` (CDS Hooks 2.0 §HTTP Request)."""

    hook: Annotated[str, Meta(min_length=1, max_length=128)]
    hookInstance: Id
    context: WireContext
    fhirServer: Annotated[str, Meta(max_length=2_048)] | None = None
    fhirAuthorization: FhirAuthorization | None = None
    prefetch: Struct | None = None  # a Struct of the services' prefetch keys (`RequestDecoder`)
    # Pre-1.0 clients (and the HL7 PDDI examples) put the user at the top level.
    legacy_user_id: Id | None = field(default=None, name="userId")
    legacy_user: Id | None = field(default=None, name="user")


@dataclass(frozen=True, slots=True)
class HookContext:
    """The hook's context, checked against its hook's required fields."""

    userId: str
    patientId: str
    encounterId: str | None = None
    draftOrders: dict[str, Any] | None = None  # a Bundle, as JSON
    selections: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class HookRequest:
    """A decoded hook call. `prefetch` values are resource views (only the fields read), or
    None where the client sent null."""

    hook: str
    hookInstance: str
    context: WireContext
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    prefetch: dict[str, Resource | None] | None = None
    legacy_user: str | None = None


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Secret:
        if not isinstance(value, str):
            raise TypeError("access_token must be a string")
        # It goes into an Authorization header: visible ASCII only (RFC 6750's b64token is a
        # subset). Anything else could not be sent, and would fail deep in the FHIR client.
        if len(value) > 16_384 or not _VISIBLE_ASCII.fullmatch(value):
            raise ValueError("access_token must be 1 to 16384 visible ASCII characters")
        return Secret(value)
    raise NotImplementedError


_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`")


class RequestDecoder:
    """Decodes hook call bodies for services whose prefetch templates have `prefetch_keys`.

    `prefetch` is decoded as a Struct of exactly those keys: other keys are skipped unread,
    and an error names its key (`prefetch.observations.entry[3]...`).
    """

    def __init__(self, prefetch_keys: Iterable[str]) -> None:
        self.prefetch_keys = tuple(prefetch_keys)
        prefetch = msgspec.defstruct(
            "Prefetch",
            [(key, Resource | None | UnsetType, UNSET) for key in self.prefetch_keys],
            frozen=True,
        )
        request = msgspec.defstruct(
            "HookRequest",
            [("prefetch", prefetch | None, None)],
            bases=(WireRequest,),
            frozen=True,
        )
        self._decoder = msgspec.json.Decoder(request, dec_hook=_dec_hook)
        self.request_type: type[Struct] = request

    def decode(self, raw: bytes) -> HookRequest:
        """Decode and check a hook call body; BadRequest (400) names what is wrong, never a
        value."""
        if not raw.strip():
            raise BadRequest("The request body is empty.")
        try:
            wire = cast(WireRequest, self._decoder.decode(raw))
        except msgspec.ValidationError as exc:
            raise _invalid(*error_where(exc)) from None
        except msgspec.DecodeError:
            raise BadRequest("The request body is not valid JSON.") from None
        except RecursionError:
            raise RequestTooDeep("The JSON nests too deeply to be read.") from None
        server = wire.fhirServer
        if server is not None:
            if not server.lower().startswith(("http://", "https://")):
                raise BadRequest(
                    "Invalid CDS Hooks request: fhirServer must be an absolute http(s) URL.",
                    expression=["fhirServer"],
                )
            server = server.rstrip("/")
        if wire.fhirAuthorization is not None and server is None:
            raise BadRequest(
                "fhirAuthorization was sent without fhirServer.", expression=["fhirServer"]
            )
        prefetch = None
        if wire.prefetch is not None:
            sent = ((key, getattr(wire.prefetch, key)) for key in self.prefetch_keys)
            prefetch = {key: value for key, value in sent if value is not UNSET}
        return HookRequest(
            hook=wire.hook,
            hookInstance=wire.hookInstance,
            context=wire.context,
            fhirServer=server,
            fhirAuthorization=wire.fhirAuthorization,
            prefetch=prefetch,
            legacy_user=wire.legacy_user_id or wire.legacy_user,
        )

    def schema(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(schema, components) of the request body for the OpenAPI document."""
        (schema,), components = msgspec.json.schema_components(
            [self.request_type],
            schema_hook=_schema_hook,
            ref_template="#/components/schemas/{name}",
        )
        return schema, components


def _invalid(reason: str, path: str) -> BadRequest:
    """A decoding error (`error_where`) as a 400 naming the JSON path."""
    if reason.startswith("Number out of range"):
        return BadRequest(
            "The request body holds a number too large to read (beyond a double's range).",
            expression=[path or "(root)"],
        )
    missing = _MISSING.match(reason)
    if missing:
        path = f"{path}.{missing.group('name')}".lstrip(".")
        reason = "required"
    path = path.replace(".legacy_user_id", ".userId").replace(".legacy_user", ".user")
    shown = path or "(root)"
    return BadRequest(
        f"Invalid CDS Hooks request: {shown}: {_no_values(reason)}.", expression=[shown]
    )


def _no_values(reason: str) -> str:
    """msgspec's reasons name types and limits, not values; keep them short all the same."""
    return reason.replace("`", "")[:200]


def check_context(hook: str, request: HookRequest) -> HookContext:
    """The context of a call to a service answering `hook`: its required fields, as plain
    values. The request's `hook` must already be `hook`."""
    wire = request.context
    spec = HOOKS[hook]
    user_id = wire.userId or request.legacy_user
    present = {
        "userId": user_id,
        "patientId": wire.patientId,
        "draftOrders": wire.draftOrders,
        "selections": wire.selections,
    }
    missing = [name for name in spec.required if present.get(name) is None]
    if missing:
        raise BadRequest(
            "Invalid hook context: " + "; ".join(f"{name}: Field required" for name in missing),
            expression=[f"context.{name}" for name in missing],
        )
    draft_orders = None
    if spec.draft_orders and wire.draftOrders is not None:
        if wire.draftOrders.resourceType != "Bundle":
            raise BadRequest(
                "Invalid hook context: draftOrders: must be a FHIR Bundle",
                expression=["context.draftOrders"],
            )
        draft_orders = msgspec.to_builtins(wire.draftOrders)
    selections = None
    if "selections" in spec.required and wire.selections is not None:
        if len(wire.selections) > MAX_SELECTIONS:
            raise BadRequest(
                f"Invalid hook context: selections: at most {MAX_SELECTIONS} items",
                expression=["context.selections"],
            )
        selections = tuple(wire.selections)
    assert user_id is not None and wire.patientId is not None  # every hook requires both
    return HookContext(
        userId=user_id,
        # Some clients send "Patient/123" where the spec asks for the bare id.
        patientId=wire.patientId.removeprefix("Patient/"),
        encounterId=wire.encounterId,
        draftOrders=draft_orders,
        selections=selections,
    )


def _schema_hook(kind: type) -> dict[str, Any]:
    if kind is Secret:
        return {"type": "string", "minLength": 1, "maxLength": 16_384, "pattern": "^[!-~]+$"}
    raise NotImplementedError
