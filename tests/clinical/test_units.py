"""The one unit converter: every unit variant of clinical-knowledge.md section 5, and only those."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.clinical.fhirjson import normalise_unit
from cds_service.clinical.types import CANONICAL_UNITS
from cds_service.clinical.units import (
    EGFR_PER_BSA_NOTE,
    UnitError,
    convert,
    from_canonical,
    known_units,
    to_canonical,
)

# (analyte, value, unit code, unit text, expected canonical value)
CASES = [
    # potassium: mmol/L = mEq/L (valence 1)
    ("potassium", 3.6, "mmol/L", None, 3.6),
    ("potassium", 3.6, "meq/L", None, 3.6),
    ("potassium", 3.6, "mEq/L", None, 3.6),  # PDDI sends mEq/L (not UCUM case)
    ("potassium", 4.2, None, "mmol/L", 4.2),  # Bundle-ghp: unit text only
    ("potassium", 15.64, "mg/dL", None, 4.0002),  # 75940-7 in mass units: / 3.9098
    # magnesium: mg/dL x 0.41144; mEq/L / 2
    ("magnesium", 1.7, "mg/dL", None, 0.6994),
    ("magnesium", 1.8, "mg/dL", None, 0.7406),
    ("magnesium", 2.2, "mg/dL", None, 0.9052),
    ("magnesium", 0.8, "mmol/L", None, 0.8),  # PDDI: 19123-9 (mass code) carrying mmol/L
    ("magnesium", 1.4, "mEq/L", None, 0.7),
    ("magnesium", 1.4, "meq/L", None, 0.7),
    # creatinine: umol/L / 88.42; mmol/L x 1000 / 88.42
    ("creatinine", 1.2, "mg/dL", None, 1.2),
    ("creatinine", 88.42, "umol/L", None, 1.0),
    ("creatinine", 88.42, None, "µmol/L", 1.0),
    ("creatinine", 88.42, None, "μmol/L", 1.0),  # Greek mu, not the micro sign
    ("creatinine", 122, "258814008", "umol/L", 1.3798),  # f204: SNOMED unit code, text umol/L
    ("creatinine", 0.09, None, "mmol/L", 1.0179),  # Bundle-ghp 14682-9
    # eGFR: all spellings of mL/min/1.73 m2, and plain mL/min (accepted, with a note)
    ("egfr", 41.6, "mL/min/{1.73_m2}", None, 41.6),
    ("egfr", 41.6, None, "mL/min/1.73m2", 41.6),
    ("egfr", 41.6, None, "mL/min/1.73_m2", 41.6),
    ("egfr", 41.6, None, "mL/min/1.73 m2", 41.6),
    ("egfr", 41.6, None, "mL/min/1.73 m²", 41.6),
    ("egfr", 26.7, "mL/min", None, 26.7),
    # calcium: mg/dL x 0.2495
    ("calcium", 8.6, "mg/dL", None, 2.1457),
    ("calcium", 2.38, None, "mmol/L", 2.38),
    ("calcium", 4.6, "meq/L", None, 2.3),
    # CK
    ("creatine_kinase", 150, "U/L", None, 150),
    ("creatine_kinase", 150, None, "IU/L", 150),
    # TSH: m[IU]/L = u[IU]/mL = mIU/L = uIU/mL
    ("tsh", 2.5, "m[IU]/L", None, 2.5),
    ("tsh", 2.5, "u[IU]/mL", None, 2.5),
    ("tsh", 2.5, None, "mIU/L", 2.5),
    ("tsh", 2.5, None, "uIU/mL", 2.5),
    ("tsh", 2.5, None, "µIU/mL", 2.5),
    ("tsh", 2.5, None, "mU/L", 2.5),
    # sodium
    ("sodium", 140, "mmol/L", None, 140),
    ("sodium", 140, None, "mEq/L", 140),
]


@pytest.mark.parametrize(("analyte", "value", "code", "text", "expected"), CASES)
def test_converts_every_documented_unit(
    analyte: str, value: float, code: str | None, text: str | None, expected: float
) -> None:
    assert to_canonical(analyte, value, code, text) == pytest.approx(expected, abs=5e-4)


def test_magnesium_check_values_from_the_knowledge_base() -> None:
    # 1.7 mg/dL = 0.699 mmol/L = 1.40 mEq/L; 0.75 mmol/L = 1.82 mg/dL
    assert to_canonical("magnesium", 1.7, "mg/dL", None) == pytest.approx(0.699, abs=1e-3)
    assert to_canonical("magnesium", 1.40, "meq/L", None) == pytest.approx(0.70, abs=1e-3)
    assert from_canonical("magnesium", 0.75, "mg/dL") == pytest.approx(1.82, abs=5e-3)


def test_hypomagnesemia_borderline_lands_on_the_right_side_of_0_70() -> None:
    # 1.7 mg/dL is just below 0.70 mmol/L; 1.71 is just above: the rules see the difference.
    assert to_canonical("magnesium", 1.7, "mg/dL", None) < 0.70
    assert to_canonical("magnesium", 1.71, "mg/dL", None) > 0.70


def test_plain_ml_per_min_egfr_is_flagged() -> None:
    converted = convert("egfr", 26.7, "mL/min", None)
    assert converted.note == EGFR_PER_BSA_NOTE
    assert convert("egfr", 26.7, "mL/min/{1.73_m2}", None).note is None


def test_code_wins_over_text_and_text_is_the_fallback() -> None:
    assert to_canonical("creatinine", 1.0, "mg/dL", "umol/L") == 1.0
    assert to_canonical("creatinine", 88.42, "not-a-unit", "umol/L") == pytest.approx(1.0)


def test_zero_width_characters_and_case_do_not_matter() -> None:
    assert to_canonical("potassium", 4.0, "MMOL/L\u200b", None) == 4.0
    assert normalise_unit(" mL/min/{1.73_m2} ") == "ml/min/1.73m2"
    assert normalise_unit("\u200b") is None


@pytest.mark.parametrize(
    ("analyte", "code", "text"),
    [
        ("potassium", "g/L", None),
        ("magnesium", None, None),  # no unit at all: Mg is ambiguous between mg/dL and mmol/L
        ("magnesium", "", "  "),
        ("egfr", "mL/s", None),
        ("tsh", "mIU/mL", None),  # 1000x different: never silently equal
        ("creatinine", "mg/L", None),
        ("not-an-analyte", "mmol/L", None),
    ],
)
def test_unknown_units_raise_unit_error(analyte: str, code: str | None, text: str | None) -> None:
    with pytest.raises(UnitError):
        to_canonical(analyte, 1.0, code, text)


def test_every_analyte_has_a_unit_table_including_its_canonical_unit() -> None:
    for analyte, unit in CANONICAL_UNITS.items():
        assert known_units(analyte), analyte
        assert to_canonical(analyte, 1.0, unit, None) == 1.0


def test_from_canonical_rejects_unknown_units() -> None:
    with pytest.raises(UnitError):
        from_canonical("magnesium", 1.0, "furlongs")


_UNIT_TEXT = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.sampled_from(["mg/dL", "MMOL/L", "µmol/L", "mL/min", "u[IU]/mL", "{", "\u200b", "meq/l"]),
)


@given(
    analyte=st.one_of(st.sampled_from(sorted(CANONICAL_UNITS)), st.text(max_size=10)),
    value=st.floats(allow_nan=True, allow_infinity=True),
    code=_UNIT_TEXT,
    text=_UNIT_TEXT,
)
def test_conversion_raises_nothing_but_unit_error(
    analyte: str, value: float, code: str | None, text: str | None
) -> None:
    with contextlib.suppress(UnitError):
        to_canonical(analyte, value, code, text)


@given(
    analyte=st.sampled_from(sorted(CANONICAL_UNITS)),
    value=st.floats(min_value=1e-3, max_value=1e5, allow_nan=False),
    data=st.data(),
)
def test_conversion_round_trips(analyte: str, value: float, data: st.DataObject) -> None:
    unit = data.draw(st.sampled_from(known_units(analyte)))
    canonical = to_canonical(analyte, value, unit, None)
    assert math.isclose(from_canonical(analyte, canonical, unit), value, rel_tol=1e-9)
