"""CKD-EPI 2021: the knowledge base's test vectors, the domain, and the derived LabValue."""

from __future__ import annotations

from datetime import date

import pytest

from cds_service.clinical.egfr import LOINC_CKD_EPI_2021, ckd_epi_2021, computed_egfr
from cds_service.clinical.types import LabValue

# clinical-knowledge.md section 6 (and codes.json ckd_epi_2021.test_vectors)
VECTORS = [
    (0.9, 55, "female", 75.5),
    (1.0, 60, "male", 86.2),
    (2.0, 75, "male", 34.2),
    (1.2, 80, "female", 45.8),
    (0.6, 40, "female", 116.3),
]


@pytest.mark.parametrize(("scr", "age", "sex", "expected"), VECTORS)
def test_reproduces_the_test_vectors(scr: float, age: int, sex: str, expected: float) -> None:
    assert ckd_epi_2021(scr, age, sex) == pytest.approx(expected, abs=0.1)  # type: ignore[arg-type]


def test_the_kink_is_continuous_at_kappa() -> None:
    below = ckd_epi_2021(0.8999999, 50, "male")
    above = ckd_epi_2021(0.9000001, 50, "male")
    assert below == pytest.approx(above, rel=1e-5)


@pytest.mark.parametrize(("scr", "age"), [(1.0, 17), (0.0, 50), (-1.0, 50)])
def test_outside_the_domain_raises(scr: float, age: int) -> None:
    with pytest.raises(ValueError):
        ckd_epi_2021(scr, age, "male")


def _creatinine(value: float = 2.34, comparator: str | None = None) -> LabValue:
    return LabValue(
        analyte="creatinine",
        value=value,
        comparator=comparator,  # type: ignore[arg-type]
        when=date(2020, 9, 17),
        original=f"{value} mg/dL",
        source_id="Observation/cr1",
        code="2160-0",
    )


def test_computed_value_says_where_it_came_from() -> None:
    egfr = computed_egfr(_creatinine(), 67, "male")
    assert egfr is not None
    assert egfr.analyte == "egfr" and egfr.unit == "mL/min/1.73m2"
    assert egfr.value == pytest.approx(ckd_epi_2021(2.34, 67, "male"), abs=0.05)
    assert (egfr.code, egfr.source_id, egfr.derived_from) == (
        LOINC_CKD_EPI_2021,
        None,
        "Observation/cr1",
    )
    assert egfr.when == date(2020, 9, 17)
    assert egfr.note == (
        "computed with CKD-EPI 2021 from creatinine 2.34 mg/dL on 2020-09-17, age 67, sex male"
    )


@pytest.mark.parametrize(
    ("age", "sex", "comparator"),
    [(17, "male", None), (None, "male", None), (60, None, None), (60, "female", "<")],
)
def test_no_computed_value_for_children_unknown_sex_or_censored_creatinine(
    age: int | None, sex: str | None, comparator: str | None
) -> None:
    assert computed_egfr(_creatinine(comparator=comparator), age, sex) is None  # type: ignore[arg-type]
