"""The lab table (clinical/data/labs.yaml): one entry per analyte, checked whole at start-up.

A lab with a missing piece (unit, converters, plausible range, codes, display name) or a lab
the `Analyte` type does not know stops start-up with a message naming the entry and the piece.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, get_args

import pytest

from cds_service.cards.catalog import CardCatalog
from cds_service.clinical.lab_table import (
    ANALYTES,
    CANONICAL_UNITS,
    IONIZED_CALCIUM,
    LAB_LABELS,
    LABS,
    PLAUSIBLE,
    Analyte,
    check_lab_table,
    read_lab_table,
)
from cds_service.clinical.terminology import Terminology, TerminologyError, read_data
from cds_service.clinical.units import convert
from cds_service.rules.types import OrderableLab

Mutation = Callable[[dict[str, Any]], object]


def _raw() -> dict[str, Any]:
    return copy.deepcopy(read_lab_table())


def test_the_table_is_exactly_the_analytes_in_the_order_of_the_prefetch_query() -> None:
    assert tuple(LABS) == ANALYTES == get_args(Analyte)
    assert check_lab_table(_raw()) == dict(LABS)


def test_the_derived_tables_hold_what_the_python_tables_held_before() -> None:
    """The values that were written out in observation.py, units.py and evidence.py."""
    assert PLAUSIBLE["potassium"] == (0.5, 15.0) and PLAUSIBLE["creatine_kinase"] == (1.0, 1e6)
    assert sorted(IONIZED_CALCIUM) == ["17863-2", "1994-3", "1995-0"]
    assert CANONICAL_UNITS["egfr"] == "mL/min/1.73m2" and CANONICAL_UNITS["tsh"] == "mIU/L"
    assert LAB_LABELS["creatine_kinase"] == "Creatine kinase"
    # "a / b" factors are the same floats as the Python expressions they replaced
    assert LABS["potassium"].factors["mg/dl"] == 10.0 / 39.098
    assert LABS["creatinine"].factors["umol/l"] == 1.0 / 88.42
    assert LABS["creatinine"].factors["mmol/l"] == 1000.0 / 88.42
    assert convert("creatinine", 88.42, None, "µmol/L").value == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t["tsh"].pop("unit"), "labs.yaml tsh: missing unit"),
        (lambda t: t["tsh"].pop("plausible"), "labs.yaml tsh: missing plausible"),
        (lambda t: t["tsh"].pop("codes"), "labs.yaml tsh: missing codes"),
        (lambda t: t["tsh"].pop("display"), "labs.yaml tsh: missing display"),
        (lambda t: t["tsh"].pop("units"), "labs.yaml tsh: missing units"),
        (lambda t: t["tsh"]["units"].pop("miu/l"), "canonical unit 'mIU/L' needs factor 1"),
        (lambda t: t["tsh"]["units"].update({"mIU/L": 1.0}), "'mIU/L' is not normalised"),
        (lambda t: t["magnesium"]["units"].update({"mg/dl": "x / 2"}), "units.mg/dl"),
        (lambda t: t["magnesium"]["units"].update({"mg/dl": 0}), "units.mg/dl"),
        (lambda t: t["tsh"].update(plausible=[5.0, 1.0]), "0 < low < high"),
        (lambda t: t["tsh"].update(plausible=[1.0]), "plausible: \\[low, high\\]"),
        (lambda t: t["tsh"].update(colour="blue"), "unknown keys \\['colour'\\]"),
        (lambda t: t["calcium"]["codes"].pop("from"), "calcium: codes: needs from:"),
        (lambda t: t["egfr"]["notes"].update({"ml/h": "x"}), "'ml/h' is not one of its units"),
        (lambda t: t["tsh"].update(ionized=["3016-3"]), "ionized: calcium only"),
        (lambda t: t.pop("sodium"), "labs.yaml sodium: missing: every Analyte"),
        (lambda t: t.update(albumin=t["calcium"]), "labs.yaml albumin: not an Analyte"),
    ],
)
def test_a_lab_with_a_missing_piece_stops_start_up(mutate: Mutation, message: str) -> None:
    table = _raw()
    mutate(table)
    with pytest.raises(TerminologyError, match=message):
        check_lab_table(table)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t["tsh"]["codes"].update({"from": "thyroxine"}), "tsh.codes: from: no loinc"),
        (lambda t: t["potassium"]["codes"].update(exclude=["2160-0"]), "2160-0 is not in"),
        (
            lambda t: t["magnesium"]["codes"].update(exclude=["19123-9", "2601-3", "21377-7", "2593-2"]),
            "magnesium.codes: selects no code",
        ),
        (lambda t: t["calcium"].update(ionized=["2823-3"]), "2823-3 is not one of its codes"),
        (lambda t: t["sodium"]["codes"].update({"from": "potassium"}), "already in another"),
        (lambda t: t["tsh"]["codes"].update(query="no", colour=1), "unknown keys"),
    ],
)
def test_codes_are_checked_against_codes_json_when_the_terminology_loads(
    mutate: Mutation, message: str
) -> None:
    table = _raw()
    mutate(table)
    codes, groups = read_data()
    with pytest.raises(TerminologyError, match=message):
        Terminology(codes, groups, lab_table=check_lab_table(table))


def test_every_orderable_lab_is_a_lab_the_service_reads() -> None:
    """Checked at catalog load too (cards/checks.check_orderables); its order code is one of
    the codes the service recognises results by."""
    codes, groups = read_data()
    terminology = Terminology(codes, groups)
    orderables = CardCatalog.load().orderables.labs
    for lab in get_args(OrderableLab):
        assert lab in LABS
        assert terminology.lab_codes[orderables[lab].loinc][0] == lab
