"""The quick per-Observation pass agrees with the full read whenever it answers.

`quick_candidate` is an optimisation of `read_candidates` + `observation_date` for the usual
Observation shape; it must never answer differently, only decline ("not that shape").
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.clinical.labs import read_labs
from cds_service.clinical.observation import (
    observation_date,
    quick_candidate,
    read_candidates,
)
from cds_service.clinical.terminology import get_terminology
from tests.clinical.conftest import LOINC, UCUM

TERMINOLOGY = get_terminology()
SETTINGS = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# Field values: the usual one first, then odd ones the full read treats differently.
FIELDS: dict[tuple[str, ...], list[Any]] = {
    ("status",): ["final", "amended", "corrected", "preliminary", "unknown", 5, None],
    ("code", "coding", 0, "code"): ["2823-3", "19123-9", "2601-3", "2160-0", "98979-8",
        "33914-3", " 2823-3", "2823-3\u200b", "29349-8", "1234-5", "", 7, None],
    ("code", "coding", 0, "system"): [LOINC, "urn:oid:2.16.840.1.113883.6.1", None,
        "http://snomed.info/sct", 5],
    ("valueQuantity", "value"): [4.2, 0.7, 60, 140.0, 1.7, 0, -1, True, "4.1", None,
        float("nan"), float("inf"), 10**6],
    ("valueQuantity", "unit"): ["mmol/L", "mEq/L", "mg/dL", "umol/L", "µmol/L",
        "mL/min/{1.73_m2}", "mL/min", "U/L", "g/L", " mmol/L", "", None, 3, ["mmol/L"]],
    ("valueQuantity", "code"): ["mmol/L", "mg/dL", "mL/min/{1.73_m2}", "{tbl}", None, 3],
    ("valueQuantity", "system"): [UCUM, None, "http://snomed.info/sct", 5],
    ("effectiveDateTime",): ["2026-11-14T18:31:00-05:00", "2026-11-14", " 2026-11-14",
        "2026-11-14 ", "2026-02-30", "2026-11", "2026", "2026-11-1", "garbage", "", 20261114,
        None],
}  # fmt: skip


@st.composite
def observations(draw: st.DrawFn) -> dict[str, Any]:
    """A usual lab Observation, with a few fields changed to another of their values."""
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "2823-3"}]},
        "effectiveDateTime": "2026-11-14T18:31:00-05:00",
        "valueQuantity": {"value": 4.2, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"},
    }
    for path in draw(st.lists(st.sampled_from(sorted(FIELDS, key=str)), max_size=3)):
        holder = obs
        for key in path[:-1]:
            holder = holder[key]
        value = draw(st.sampled_from(FIELDS[path]))
        if value is None and draw(st.booleans()):
            holder.pop(path[-1], None)
        else:
            holder[path[-1]] = value
    extra = draw(st.integers(0, 9))
    if extra == 0:
        obs["valueQuantity"]["comparator"] = draw(st.sampled_from([">", "<", "ad", None]))
    elif extra == 1:
        obs["component"] = [{"code": {"coding": [{"system": LOINC, "code": "98979-8"}]}}]
    elif extra == 2:
        obs["code"]["coding"].insert(0, {"system": LOINC, "code": draw(st.sampled_from(
            [" 2951-2", "1234-5", "2160-0"]))})  # fmt: skip
    elif extra == 3:
        obs["issued"] = "2026-11-20"
    return obs


@SETTINGS
@given(observations())
def test_quick_candidate_answers_like_the_full_read(obs: dict[str, Any]) -> None:
    quick = quick_candidate(obs, TERMINOLOGY.lab_codes, {})
    if quick is None:
        return
    candidate, when, stamp = quick
    assert read_candidates(obs, TERMINOLOGY) == [candidate]
    assert observation_date(obs) == (when, stamp)


def test_the_usual_observation_takes_the_quick_path() -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "2823-3"}]},
        "effectiveDateTime": "2026-11-14T18:31:00-05:00",
        "valueQuantity": {"value": 4.0, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"},
    }
    quick = quick_candidate(obs, TERMINOLOGY.lab_codes, {})
    assert quick is not None and quick[1] == date(2026, 11, 14)


@SETTINGS
@given(st.lists(observations(), max_size=8))
def test_duplicated_results_choose_the_same_labs(batch: list[dict[str, Any]]) -> None:
    """Reading every result twice (quick or full pass) changes the counts, not the choice."""
    once = read_labs(batch, terminology=TERMINOLOGY, as_of=date(2026, 11, 25), max_age_days=365)
    twice = read_labs(
        batch + batch, terminology=TERMINOLOGY, as_of=date(2026, 11, 25), max_age_days=365
    )
    assert once.labs == twice.labs
