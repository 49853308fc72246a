"""Views of FHIR R4 resources that hold only what the service reads: decoding skips the rest.

One view serves every resource type (the fields are the union of what the readers use:
Patient, Observation, MedicationRequest and its DSTU2/STU3 forms, Medication, Condition,
Bundle, OperationOutcome); a field another type spells differently is simply absent. Unknown
content, however large or deep, is skipped by the decoder without being built.

Shapes that real clients send are accepted where the readers cope with them: a single object
where an array belongs (`coding`, `entry`, ...), a Bundle entry that is the resource itself,
DSTU2's string `note` and STU3's string `clinicalStatus`. Leaves whose type varies in real
data (`value`, `frequency`) keep the JSON type sent and are judged by the readers. Anything else
of the wrong type is a 400 naming its JSON path (`cdshooks.request.RequestDecoder`).

`msgspec.to_builtins(view)` gives the plain JSON the readers take: the sent object minus the
fields not read (`omit_defaults`), so a view never invents a key.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from msgspec import Struct

_V = TypeVar("_V")
Number = float | str | None  # `value` as sent: a JSON number, or text the readers refuse


class _View(Struct, omit_defaults=True, forbid_unknown_fields=False):
    """Base: unknown fields skipped, absent fields left out again by `to_builtins`."""


class Present(_View):
    """A field whose presence is read, not its content (e.g. `valueString`'s siblings)."""


Scalar = str | float | bool | Present | None  # any value[x] other than a Quantity


class Coding(_View):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class Concept(_View):
    coding: list[Coding] | Coding | None = None
    text: str | None = None


class Quantity(_View):
    value: Number = None
    comparator: str | None = None
    unit: str | None = None
    system: str | None = None
    code: str | None = None


class Identifier(_View):
    system: str | None = None
    value: str | None = None


class Reference(_View):
    reference: str | None = None
    display: str | None = None
    identifier: Identifier | None = None


class Period(_View):
    start: str | None = None
    end: str | None = None


class ReferenceRange(_View):
    low: Quantity | None = None
    high: Quantity | None = None


class _Result(_View):
    """What carries a lab result: an Observation, or one of its components."""

    code: Concept | None = None
    valueQuantity: Quantity | None = None
    valueString: Scalar = None
    valueCodeableConcept: Concept | None = None
    valueInteger: Number = None
    valueBoolean: Scalar = None
    valueRange: Present | None = None
    valueRatio: Present | None = None
    valueDateTime: str | None = None
    valuePeriod: Present | None = None
    valueTime: str | None = None
    valueSampledData: Present | None = None
    interpretation: list[Concept] | Concept | None = None
    referenceRange: list[ReferenceRange] | ReferenceRange | None = None


class Component(_Result):
    """Observation.component."""


class Repeat(_View):
    frequency: Number = None
    period: Number = None
    periodUnit: str | None = None


class Timing(_View):
    repeat: Repeat | None = None
    code: Concept | None = None


class DoseAndRate(_View):
    doseQuantity: Quantity | None = None


class Dosage(_View):
    text: str | None = None
    patientInstruction: str | None = None
    sequence: Number = None
    timing: Timing | None = None
    route: Concept | None = None
    doseAndRate: list[DoseAndRate] | DoseAndRate | None = None
    doseQuantity: Quantity | None = None  # DSTU2


class Annotation(_View):
    text: str | None = None


class IngredientItem(_View):
    """R5 `Medication.ingredient.item` (CodeableReference)."""

    concept: Concept | None = None
    reference: Reference | None = None
    display: str | None = None


class Ingredient(_View):
    itemCodeableConcept: Concept | None = None
    item: IngredientItem | None = None
    strength: Present | None = None


class CodeableReference(_View):
    """R5 `MedicationRequest.medication`."""

    concept: Concept | None = None
    reference: Reference | None = None


class Link(_View):
    relation: str | None = None
    url: str | None = None


class Issue(_View):
    severity: str | None = None
    code: str | None = None


class Resource(_Result):
    """Every resource type read, in one view (`code` and the Observation result fields come
    from `_Result`)."""

    resourceType: str | None = None
    id: str | None = None
    status: str | None = None
    # Patient
    birthDate: str | None = None
    gender: str | None = None
    # Observation (its value[x], interpretation and referenceRange: `_Result`)
    effectiveDateTime: str | None = None
    effectivePeriod: Period | None = None
    effectiveInstant: str | None = None
    issued: str | None = None
    component: list[Component] | Component | None = None
    # MedicationRequest (R4; DSTU2 MedicationOrder; R5 `medication`) and Medication
    medicationCodeableConcept: Concept | None = None
    medicationReference: Reference | None = None
    medication: CodeableReference | None = None
    contained: list[Resource] | Resource | None = None
    ingredient: list[Ingredient] | Ingredient | None = None
    dosageInstruction: list[Dosage] | Dosage | None = None
    dosage: list[Dosage] | Dosage | None = None
    reasonCode: list[Concept] | Concept | None = None
    reasonCodeableConcept: Concept | None = None  # DSTU2
    reasonReference: list[Reference] | Reference | None = None
    note: list[Annotation] | Annotation | str | None = None  # DSTU2: a string
    authoredOn: str | None = None
    dateWritten: str | None = None  # DSTU2
    # Condition (STU3 and DSTU2 status codes are strings)
    clinicalStatus: Concept | str | None = None
    verificationStatus: Concept | str | None = None
    onsetDateTime: str | None = None
    onsetPeriod: Period | None = None
    abatementDateTime: str | None = None
    abatementAge: Quantity | None = None
    abatementPeriod: Period | None = None
    abatementRange: ReferenceRange | None = None
    abatementString: str | None = None
    abatementBoolean: bool | None = None
    abatementDate: str | None = None  # DSTU2
    # Bundle
    entry: list[Entry] | Entry | None = None
    link: list[Link] | Link | None = None
    # OperationOutcome
    issue: list[Issue] | Issue | None = None


class Entry(Resource):
    """A Bundle entry. Some clients put the resource itself in `entry`: its fields are read
    as a resource's, beside `resource`."""

    resource: Resource | None = None
    fullUrl: str | None = None


_RESOURCE = msgspec.json.Decoder(Resource)


def decode_resource(raw: bytes) -> Resource:
    """A FHIR server's answer as a view. Raises msgspec.ValidationError (a field of the wrong
    type, by JSON path), msgspec.DecodeError (not JSON) or RecursionError (too deep)."""
    return _RESOURCE.decode(raw)


def as_json(resource: Resource) -> dict[str, Any]:
    """The view as the plain JSON the dict-reading clinical readers take (only fields read)."""
    out: dict[str, Any] = msgspec.to_builtins(resource)
    return out


_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def error_where(error: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec's "Expected `str`, got `int` - at `$.entry[0].id`" as ("Expected `str`, got
    `int`", "entry[0].id"): the reason (types and limits, never a value) and the JSON path,
    "" when the error is about the document itself."""
    message = str(error)
    where = _AT.search(message)
    if where is None:
        return message, ""
    return message[: where.start()], where.group("path").lstrip(".")


def listed(value: list[_V] | _V | None) -> list[_V]:
    """A repeating field as a list: absent -> [], one object where an array belongs -> [it]."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def view(resource: dict[str, Any]) -> Resource:
    """A resource already parsed as JSON, as a view (as if decoded at the edge). Raises
    msgspec.ValidationError for a field of the wrong type, as the decoder would."""
    return msgspec.convert(resource, Resource)
