"""Daily dose in mg: dose x strength x frequency, or nothing when any part is unclear."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.dosing import daily_dose_mg, dose_mg, times_per_day
from cds_service.clinical.strength import Strength

TABLET_10 = Strength(10.0, "unit")
SOLUTION_1_PER_ML = Strength(1.0, "mL")
DAILY = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}
TID = {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}}


@pytest.mark.parametrize(
    ("timing", "expected"),
    [
        (DAILY, 1.0),
        (TID, 3.0),
        ({"repeat": {"frequency": 1, "period": 8, "periodUnit": "h"}}, 3.0),
        ({"repeat": {"period": 12, "periodUnit": "h"}}, 2.0),  # frequency defaults to 1
        ({"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk"}}, 1 / 7),
        ({"repeat": {"frequency": 2, "period": 2, "periodUnit": "d"}}, 1.0),
        ({"code": {"coding": [{"code": "BID"}]}}, 2.0),
        ({"code": {"coding": [{"code": "qid"}]}}, 4.0),
        ({"code": {"text": "QHS"}}, 1.0),
        ({"code": {"coding": [{"code": "Q6H"}]}}, 4.0),
        ({"repeat": {"frequency": 1, "period": 1}, "code": {"text": "TID"}}, 3.0),
        ({"repeat": {"frequency": 1, "periodUnit": "d"}}, None),  # no period
        ({"repeat": {"frequency": 0, "period": 1, "periodUnit": "d"}}, None),
        ({"repeat": {"frequency": "3", "period": 1, "periodUnit": "d"}}, None),
        ({"repeat": {"frequency": 1, "period": 1, "periodUnit": "fortnight"}}, None),
        ({"code": {"text": "as directed"}}, None),
        ({}, None),
        (None, None),
        ("TID", None),
    ],
)
def test_times_per_day(timing: Any, expected: float | None) -> None:
    result = times_per_day(timing)
    assert result == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("quantity", "strength", "expected"),
    [
        ({"value": 10, "unit": "mg"}, None, 10.0),
        ({"value": 10, "code": "mg", "system": "http://unitsofmeasure.org"}, None, 10.0),
        ({"value": 0.5, "unit": "g"}, None, 500.0),
        ({"value": 250, "unit": "mcg"}, None, 0.25),
        ({"value": 1, "code": "{tablet}"}, TABLET_10, 10.0),
        ({"value": 2, "unit": "tablets"}, TABLET_10, 20.0),
        ({"value": 1, "code": "{pill}"}, TABLET_10, 10.0),
        ({"value": 1, "unit": "TAB"}, TABLET_10, 10.0),
        ({"value": 1, "unit": "capsule(s)"}, TABLET_10, 10.0),
        ({"value": 5, "unit": "mL"}, SOLUTION_1_PER_ML, 5.0),
        ({"value": 5, "unit": "mL"}, TABLET_10, None),  # volume of a tablet product
        ({"value": 1, "unit": "tablet"}, SOLUTION_1_PER_ML, None),
        ({"value": 1, "unit": "tablet"}, None, None),  # strength unknown
        ({"value": 1, "unit": "puff"}, TABLET_10, None),
        ({"value": -1, "unit": "mg"}, None, None),
        ({"value": "10", "unit": "mg"}, None, None),
        ({"value": 10}, None, None),
    ],
)
def test_dose_mg(
    quantity: dict[str, Any], strength: Strength | None, expected: float | None
) -> None:
    result = dose_mg(quantity, strength)
    assert result == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("dosage", "expected"),
    [
        # R4: doseAndRate array
        ({"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}], "timing": TID}, 30.0),
        # doseAndRate as a single object (order-select example)
        ({"doseAndRate": {"doseQuantity": {"value": 1, "unit": "tablet"}}, "timing": TID}, 30.0),
        # STU3: doseQuantity on the dosage (SMART, order-sign example)
        ({"doseQuantity": {"value": 1, "code": "{tablet}"}, "timing": DAILY}, 10.0),
        ({"doseAndRate": [{"doseRange": {"low": {"value": 1}}}], "timing": TID}, None),
        ({"doseQuantity": {"value": 1, "unit": "tablet"}}, None),  # no timing
        ({"timing": TID}, None),  # no dose
    ],
)
def test_daily_dose(dosage: dict[str, Any], expected: float | None) -> None:
    assert daily_dose_mg(dosage, TABLET_10) == expected
