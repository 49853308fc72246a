"""Kidney bands and the eGFR borderlines every renal rule relies on."""

from __future__ import annotations

import pytest

from cds_service.rules.kidney import assess_kidney, below
from cds_service.rules.types import Thresholds
from tests.rules.conftest import cond, egfr, facts


@pytest.mark.parametrize(
    ("value", "comparator", "band"),
    [
        (29.9, None, "severe"),
        (30, None, "moderate"),
        (59.9, None, "moderate"),
        (60, None, "adequate"),
        (60, ">", "adequate"),
        (90, ">=", "adequate"),
        (15, "<", "severe"),
        (30, "<", "severe"),  # "<30" is certainly below 30
        (30, "<=", "moderate"),  # "<=30" may be exactly 30
    ],
)
def test_egfr_bands(value, comparator, band):
    kidney = assess_kidney(facts(labs=(egfr(value, comparator=comparator),)), Thresholds())
    assert kidney.band == band


def test_coded_g4_g5_or_dialysis_is_severe_whatever_the_egfr():
    for group in ("ckd_g4_g5", "esrd_dialysis"):
        kidney = assess_kidney(facts(labs=(egfr(65),), conditions=(cond(group),)), Thresholds())
        assert kidney.band == "severe"


def test_ckd_without_egfr_is_moderate_and_says_so():
    kidney = assess_kidney(facts(conditions=(cond("ckd"),)), Thresholds())
    assert kidney.band == "moderate" and kidney.ckd_without_egfr


def test_no_data_is_unknown_not_impaired():
    kidney = assess_kidney(facts(), Thresholds())
    assert kidney.band == "unknown" and not kidney.impaired


def test_derived_egfr_is_marked_computed_in_values_and_evidence():
    kidney = assess_kidney(facts(labs=(egfr(25, derived_from="Observation/cr-1"),)), Thresholds())
    assert kidney.values()["egfr_computed"] is True
    assert "computed with CKD-EPI 2021 from creatinine (Observation/cr-1)" in (
        kidney.evidence[0].value
    )


def test_below_respects_comparators():
    assert not below(egfr(60, comparator=">"), 60)
    assert below(egfr(29.99), 30)


@pytest.mark.parametrize(("entries", "lines"), [(1, 1), (3, 3), (4, 4), (12, 4)])
def test_a_repeated_problem_shows_three_entries_and_counts_the_rest(entries, lines):
    """Synthea-style problem lists repeat a condition; the card shows three and says how many
    more, instead of every entry on every card (the response grew as orders x conditions)."""
    repeated = tuple(cond("esrd_dialysis", display=f"Dialysis {i}") for i in range(entries))
    kidney = assess_kidney(facts(conditions=repeated), Thresholds())
    assert kidney.band == "severe" and kidney.dialysis
    assert len(kidney.evidence) == lines
    assert [e.value for e in kidney.evidence[:3]] == [f"Dialysis {i}" for i in range(min(3, entries))]
    if entries > 3:
        more = entries - 3
        assert kidney.evidence[3].value == f"and {more} more {'entry' if more == 1 else 'entries'} like these"
