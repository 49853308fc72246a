"""How "for cramps" is decided (rules/indication.py), as a table."""

from __future__ import annotations

import pytest

from cds_service.rules.indication import PROPER_USE, cramp_indication, is_cramp_order
from tests.rules.conftest import cond, facts, med

QUININE = PROPER_USE["quinine"]


@pytest.mark.parametrize(
    ("order", "conditions", "expected"),
    [
        pytest.param(med("quinine", reasons=("muscle_cramp",)), (), True, id="cramp-reason"),
        pytest.param(med("quinine", mentions_cramp=True), (), True, id="cramp-in-text"),
        pytest.param(med("quinine"), (cond("muscle_cramp"),), True, id="no-reason+problem-list"),
        pytest.param(med("quinine"), (), False, id="no-reason+no-cramp"),
        pytest.param(med("quinine", reasons=("malaria",)), (), False, id="proper-use-reason"),
        pytest.param(
            med("quinine", reasons=("malaria", "muscle_cramp")),
            (),
            False,
            id="proper-use-reason-wins-over-cramp-reason",
        ),
        pytest.param(
            med("quinine", reasons=("babesiosis",), mentions_cramp=True),
            (),
            False,
            id="proper-use-reason-wins-over-text",
        ),
        pytest.param(
            med("quinine"),
            (cond("muscle_cramp"), cond("malaria")),
            False,
            id="problem-list-proper-use-when-no-cramp-reason",
        ),
        pytest.param(
            med("quinine", reasons=("muscle_cramp",)),
            (cond("malaria"),),
            True,
            id="explicit-cramp-reason-beats-problem-list-malaria",
        ),
        pytest.param(
            med("quinine", mentions_cramp=True),
            (cond("malaria"),),
            True,
            id="cramp-text-beats-problem-list-malaria",
        ),
        pytest.param(
            med("quinine", reasons=("hypothyroidism",)),
            (cond("muscle_cramp"),),
            False,
            id="other-reason-ignores-problem-list",
        ),
        pytest.param(
            med("quinine", has_reason=True),
            (cond("muscle_cramp"),),
            False,
            id="unrecognised-reason-ignores-problem-list",
        ),
        pytest.param(
            med("quinine", has_reason=True, mentions_cramp=True),
            (),
            True,
            id="unrecognised-reason-with-cramp-text-is-for-cramps",
        ),
        pytest.param(
            med("quinine", has_reason=True),
            (cond("malaria"),),
            False,
            id="unrecognised-reason-not-for-cramps",
        ),
    ],
)
def test_cramp_indication_table(order, conditions, expected):
    result = cramp_indication(order, facts(conditions=conditions), QUININE)
    assert result.for_cramps is expected
    assert result.basis


def test_problem_list_basis_names_the_condition_as_evidence():
    result = cramp_indication(med("quinine"), facts(conditions=(cond("muscle_cramp"),)), QUININE)
    assert result.evidence[0].source_id == "Condition/muscle_cramp"


def test_nuedexta_is_never_a_cramp_order():
    order = med("quinidine", "nuedexta", mentions_cramp=True, reasons=("muscle_cramp",))
    assert not is_cramp_order(order, facts()).for_cramps


def test_non_cramp_drug_needs_an_explicit_cramp_reason():
    patient = facts(conditions=(cond("muscle_cramp"),))
    assert not is_cramp_order(med("diuretic"), patient).for_cramps
    assert is_cramp_order(med("diuretic", mentions_cramp=True), patient).for_cramps


def test_cramp_drug_uses_the_problem_list():
    patient = facts(conditions=(cond("muscle_cramp"),))
    assert is_cramp_order(med("magnesium_supplement"), patient).for_cramps
    hypomag = med("magnesium_supplement", reasons=("hypomagnesemia",))
    assert not is_cramp_order(hypomag, patient).for_cramps


def test_unrecognised_reason_basis_and_evidence():
    result = cramp_indication(
        med("baclofen_oral", has_reason=True), facts(conditions=(cond("muscle_cramp"),))
    )
    assert not result.for_cramps
    assert result.basis == "order reason is another condition (not a cramp reason)"
    assert [e.label for e in result.evidence] == ["Order reason"]


def test_unrecognised_reason_on_a_cramp_drug_is_not_a_workup_trigger():
    order = med("cyclobenzaprine", has_reason=True)
    assert not is_cramp_order(order, facts(conditions=(cond("muscle_cramp"),))).for_cramps
