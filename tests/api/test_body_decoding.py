"""The lean body decoder (hooks/decoding.py): what it keeps, and when it steps aside.

It must give the readers exactly what a generic decode gives them, minus Observation fields
no reader uses; any body it cannot read by its schema goes to the generic decode unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cds_service.api.body import parse_json_object
from cds_service.clinical.observation import OBSERVATION_FIELDS
from cds_service.clinical.terminology import get_terminology
from cds_service.errors import BadRequest, RequestTooDeep
from cds_service.hooks.registry import build_registry

DECODE = build_registry(get_terminology().observation_query_codes()).body_decoder

OBSERVATION = {
    "resourceType": "Observation", "id": "k1", "status": "final",
    "meta": {"lastUpdated": "2026-11-01T00:00:00Z"},
    "text": {"status": "generated", "div": "<div>K 3.1</div>"},
    "category": [{"coding": [{"code": "laboratory"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "K"}]},
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2026-11-01",
    "valueQuantity": {"value": 3.1, "unit": "mmol/L"},
    "referenceRange": [{"low": {"value": 3.5}}],
}  # fmt: skip
OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "x"}]}


def body(**prefetch: Any) -> dict[str, Any]:
    return {
        "hook": "patient-view", "hookInstance": "h1", "extension": {"x": 1},
        "context": {"userId": "Practitioner/1", "patientId": "p1", "extra": [1, {"a": None}]},
        "prefetch": prefetch,
    }  # fmt: skip


def test_observations_keep_only_the_fields_the_readers_use() -> None:
    bundle = {
        "resourceType": "Bundle", "type": "searchset", "total": 2,
        "link": [{"relation": "next", "url": "http://x/fhir/Observation?page=2"}],
        "entry": [{"fullUrl": "http://x/fhir/Observation/k1", "resource": OBSERVATION,
                   "search": {"mode": "match"}}, {"resource": OUTCOME}],
    }  # fmt: skip
    sent = body(observations=bundle, patient={"resourceType": "Patient", "id": "p1"})
    got = DECODE(orjson.dumps(sent))
    assert got is not None
    resource = got["prefetch"]["observations"]["entry"][0]["resource"]
    assert resource == {k: v for k, v in OBSERVATION.items() if k in OBSERVATION_FIELDS}
    assert got["prefetch"]["observations"]["entry"][1] == {"resource": OUTCOME}
    assert got["prefetch"]["observations"]["link"] == bundle["link"]
    # Everything that is not an Observation search arrives whole; unknown top-level keys go.
    assert got["prefetch"]["patient"] == sent["prefetch"]["patient"]
    assert got["context"] == sent["context"]
    assert "extension" not in got


@pytest.mark.parametrize(
    "value",
    [None, OUTCOME, {"resourceType": "Bundle"}, {"resourceType": "Bundle", "entry": [{}]}],
)
def test_search_values_of_known_shapes_decode(value: Any) -> None:
    got = DECODE(orjson.dumps(body(observations=value)))
    assert got is not None and got["prefetch"]["observations"] == value


@pytest.mark.parametrize(
    "raw",
    [
        b"[1, 2]",
        orjson.dumps(body(observations=[OBSERVATION])),
        orjson.dumps(body(observations="Observation?patient=p1")),
        orjson.dumps(body(observations={"resourceType": "Bundle", "entry": [OBSERVATION, 5]})),
        orjson.dumps(body(observations={"resourceType": "Bundle", "entry": {"resource": {}}})),
        orjson.dumps({**body(), "prefetch": "none"}),
        b'{"hook": "patient-view",',
        b'{"hook": "\xff"}',
        b"[" * 5_000 + b"]" * 5_000,
        # Integers the generic decode reads as a float, or refuses: read them its way.
        orjson.dumps(body(observations=None)).replace(b"null", b"18446744073709551616"),
        orjson.dumps(body(observations=None)).replace(b"null", b"1" + b"0" * 400),
    ],
)
def test_other_shapes_are_left_to_the_generic_decode(raw: bytes) -> None:
    assert DECODE(raw) is None


def test_odd_but_readable_bodies_read_as_before() -> None:
    odd = body(observations={"resourceType": "Bundle", "entry": [OBSERVATION, 5]})
    raw = orjson.dumps(odd)
    assert parse_json_object(raw, max_depth=64, decode=DECODE) == odd


def test_wide_integers_are_read_as_the_generic_decode_reads_them() -> None:
    raw = orjson.dumps(body(observations=None)).replace(b"null", b"123456789012345678901234")
    value = parse_json_object(raw, max_depth=64, decode=DECODE)["prefetch"]["observations"]
    assert value == orjson.loads(raw)["prefetch"]["observations"]
    assert isinstance(value, float)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"hook": ', BadRequest),
        (b"[1]", BadRequest),
        (b'{"a":' * 80 + b"1" + b"}" * 80, RequestTooDeep),
        (b'{"hook": "patient-view", "context": {"n": 1' + b"0" * 400 + b"}}", BadRequest),
    ],
)
def test_bad_bodies_get_the_same_errors(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as lean:
        parse_json_object(raw, max_depth=64, decode=DECODE)
    with pytest.raises(error) as generic:
        parse_json_object(raw, max_depth=64)
    assert str(lean.value) == str(generic.value)
