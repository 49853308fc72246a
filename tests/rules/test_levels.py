"""Low, normal or high: the lab's own judgement first, then the cut-offs (rules/levels.py)."""

from __future__ import annotations

import pytest

from cds_service.rules.levels import judge, level, upper_limit
from cds_service.rules.types import Thresholds
from tests.rules.conftest import lab

T = Thresholds()


@pytest.mark.parametrize(
    ("analyte", "value", "flag", "expected"),
    [
        ("potassium", 5.0, None, "normal"),  # at the cut-off
        ("potassium", 5.001, None, "normal"),  # within the conversion margin
        ("potassium", 5.1, None, "high"),
        ("potassium", 3.4, None, "low"),
        ("potassium", 5.8, "normal", "normal"),  # the lab's call stands
        ("potassium", 4.0, "high", "high"),
        ("magnesium", 1.07, None, "normal"),
        ("magnesium", 1.08, None, "high"),
        ("calcium", 2.11, None, "low"),
        ("calcium", 2.9, None, "normal"),  # no upper cut-off: high calcium is not our question
        ("creatine_kinase", 201, None, "high"),
        ("tsh", 0.39, None, "low"),
        ("tsh", 4.6, None, "high"),
        ("egfr", 20, None, "normal"),  # no cut-offs here: kidney bands live in kidney.py
    ],
)
def test_level(analyte, value, flag, expected):
    assert level(lab(analyte, value, interpretation=flag), T) == expected


def test_comparators():
    assert judge(lab("potassium", 3.0, comparator="<"), 3.5, 5.0) == "low"
    assert judge(lab("potassium", 6.0, comparator=">"), 3.5, 5.0) == "high"
    assert judge(lab("potassium", 5.0, comparator=">="), 3.5, 5.0) == "high"


def test_upper_limit_prefers_the_labs_own_range():
    import dataclasses

    ck = lab("creatine_kinase", 500)
    assert upper_limit(ck, T) == 200.0
    assert upper_limit(dataclasses.replace(ck, reference_high=170.0), T) == 170.0
