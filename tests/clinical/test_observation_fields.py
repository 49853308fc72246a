"""OBSERVATION_FIELDS names every Observation field the lab reader uses.

The API edge keeps only those fields of prefetched Observations (hooks/decoding.py), so a
reader that starts using another field must add it there. Checked on every Observation in
fixtures/ (conformance files, patients, requests) and in every scenario's request: the reading
is the same with each Observation cut down to OBSERVATION_FIELDS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cds_service.clinical.labs import read_labs
from cds_service.clinical.observation import OBSERVATION_FIELDS
from cds_service.clinical.terminology import get_terminology
from cds_service.tools.scenarios import build_scenario_request, load_scenarios
from tests.clinical.conftest import LOINC, UCUM

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TERMINOLOGY = get_terminology()


def _observations(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("resourceType") == "Observation":
            yield value
        for item in value.values():
            yield from _observations(item)
    elif isinstance(value, list):
        for item in value:
            yield from _observations(item)


def _collect() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(FIXTURES.rglob("*.json")):
        found.extend(_observations(json.loads(path.read_text(encoding="utf-8"))))
    scenarios, _errors = load_scenarios([FIXTURES / "scenarios"])
    for scenario in scenarios:
        found.extend(_observations(build_scenario_request(scenario).body))
    return found


def _potassium(**fields: Any) -> dict[str, Any]:
    """A potassium result dated only by the given fields (shapes the fixtures lack)."""
    return {
        "resourceType": "Observation", "id": "k-" + "-".join(fields), "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "2823-3"}]},
        "valueQuantity": {"value": 3.1, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"},
        "subject": {"reference": "Patient/p1"}, **fields,
    }  # fmt: skip


OBSERVATIONS = [
    *_collect(),
    _potassium(effectivePeriod={"start": "2026-10-01T08:00:00Z", "end": "2026-10-02"}),
    _potassium(effectiveInstant="2026-10-03T08:00:00.000Z"),
    _potassium(issued="2026-10-04T08:00:00Z"),
]


def _cut(obs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obs.items() if k in OBSERVATION_FIELDS}


def _read(observations: list[dict[str, Any]], as_of: date) -> Any:
    return read_labs(observations, terminology=TERMINOLOGY, as_of=as_of, max_age_days=365)


def test_fixtures_hold_observations_with_fields_the_reader_ignores() -> None:
    extra = {k for obs in OBSERVATIONS for k in obs} - OBSERVATION_FIELDS
    assert len(OBSERVATIONS) > 100
    assert {"subject", "category"} <= extra  # the cut below really removes something


@pytest.mark.parametrize("as_of", [date(2026, 11, 25), date(2019, 6, 1), date(2012, 1, 1)])
def test_reading_is_the_same_on_observations_cut_to_the_fields(as_of: date) -> None:
    for obs in OBSERVATIONS:
        assert _read([obs], as_of) == _read([_cut(obs)], as_of), obs.get("id")
    assert _read(OBSERVATIONS, as_of) == _read([_cut(o) for o in OBSERVATIONS], as_of)
