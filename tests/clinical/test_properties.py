"""Property tests: the readers take arbitrary JSON-like input and never raise.

Inputs mix random JSON with resources whose fields are FHIR-shaped but filled with random
values, so the generator reaches the code paths a purely random dict would not.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.clinical.conditions import read_conditions
from cds_service.clinical.facts import build_facts
from cds_service.clinical.labs import read_labs
from cds_service.clinical.medications import read_medications
from cds_service.clinical.orders import read_draft_orders
from cds_service.clinical.terminology import get_terminology
from cds_service.clinical.types import CANONICAL_UNITS
from tests.builders import views
from tests.clinical.conftest import ICD10CM, LOINC, RXNORM, SNOMED, UCUM

TERMINOLOGY = get_terminology()
AS_OF = date(2026, 11, 25)
FAST = settings(
    max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
maybe = lambda strategy: st.one_of(strategy, json_value)  # noqa: E731

codes = st.sampled_from(
    [
        "2823-3",
        "19123-9",
        "33914-3",
        "2160-0",
        "98979-8",
        "N18.4",
        "828348",
        "197391",
        "R25.2",
        "55300003",
        "x",
        "",
    ]
)
systems = st.sampled_from([LOINC, RXNORM, SNOMED, ICD10CM, None, "urn:x"])
units = st.sampled_from(["mmol/L", "mg/dL", "mEq/L", "umol/L", "mL/min", "mL/min/{1.73_m2}", "?"])
coding = st.fixed_dictionaries(
    {}, optional={"system": maybe(systems), "code": maybe(codes), "display": json_leaf}
)
concept = st.fixed_dictionaries(
    {}, optional={"coding": maybe(st.lists(maybe(coding), max_size=3)), "text": json_leaf}
)
quantity = st.fixed_dictionaries(
    {},
    optional={
        "value": st.one_of(st.floats(allow_nan=True), st.integers(), json_leaf),
        "unit": maybe(units),
        "code": maybe(units),
        "system": maybe(st.just(UCUM)),
        "comparator": maybe(st.sampled_from(["<", ">", "<=", ">=", "ad"])),
    },
)
dates = st.one_of(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)).map(date.isoformat),
    st.sampled_from(["2026", "2026-02", "2026-02-30", "2026-11-01T10:00:00Z", ""]),
    json_leaf,
)
observation = st.fixed_dictionaries(
    {"resourceType": st.just("Observation")},
    optional={
        "id": json_leaf,
        "status": maybe(st.sampled_from(["final", "amended", "unknown", "entered-in-error"])),
        "code": maybe(concept),
        "valueQuantity": maybe(quantity),
        "effectiveDateTime": dates,
        "effectivePeriod": maybe(
            st.fixed_dictionaries({}, optional={"start": dates, "end": dates})
        ),
        "issued": dates,
        "interpretation": maybe(st.lists(maybe(concept), max_size=2)),
        "referenceRange": maybe(
            st.lists(
                st.fixed_dictionaries(
                    {}, optional={"low": maybe(quantity), "high": maybe(quantity)}
                ),
                max_size=2,
            )
        ),
        "component": maybe(
            st.lists(
                st.fixed_dictionaries(
                    {}, optional={"code": maybe(concept), "valueQuantity": maybe(quantity)}
                ),
                max_size=3,
            )
        ),
    },
)
dosage = st.fixed_dictionaries(
    {},
    optional={
        "sequence": json_leaf,
        "text": json_leaf,
        "route": maybe(concept),
        "doseAndRate": maybe(
            st.lists(
                st.fixed_dictionaries({}, optional={"doseQuantity": maybe(quantity)}), max_size=2
            )
        ),
        "doseQuantity": maybe(quantity),
        "timing": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "repeat": maybe(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "frequency": json_leaf,
                                "period": json_leaf,
                                "periodUnit": maybe(st.sampled_from(["d", "h", "wk"])),
                            },
                        )
                    ),
                    "code": maybe(concept),
                },
            )
        ),
    },
)
medication = st.fixed_dictionaries(
    {"resourceType": st.just("Medication")},
    optional={
        "id": json_leaf,
        "code": maybe(concept),
        "ingredient": maybe(
            st.lists(
                st.fixed_dictionaries(
                    {}, optional={"itemCodeableConcept": maybe(concept), "item": json_value}
                ),
                max_size=3,
            )
        ),
    },
)
order = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(["MedicationRequest", "MedicationOrder"])},
    optional={
        "id": json_leaf,
        "status": json_leaf,
        "medicationCodeableConcept": maybe(concept),
        "medicationReference": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "reference": maybe(
                        st.sampled_from(
                            [
                                "#m",
                                "Medication/m",
                                "Medication/m/_history/1",
                                "http://x/Medication/m",
                                "#",
                            ]
                        )
                    ),
                    "display": json_leaf,
                },
            )
        ),
        "contained": maybe(st.lists(maybe(medication), max_size=2)),
        "dosageInstruction": maybe(st.lists(maybe(dosage), max_size=3)),
        "reasonCode": maybe(st.one_of(concept, st.lists(maybe(concept), max_size=2))),
        "note": json_value,
        "authoredOn": dates,
        "dateWritten": dates,
    },
)
condition = st.fixed_dictionaries(
    {"resourceType": st.just("Condition")},
    optional={
        "id": json_leaf,
        "clinicalStatus": maybe(st.one_of(st.sampled_from(["active", "inactive"]), concept)),
        "verificationStatus": maybe(st.one_of(st.sampled_from(["confirmed", "refuted"]), concept)),
        "code": maybe(concept),
        "onsetDateTime": dates,
        "onsetPeriod": json_value,
        "abatementDateTime": dates,
        "abatementBoolean": json_leaf,
    },
)
anything = st.lists(st.one_of(json_value, observation, order, condition, medication), max_size=6)


@FAST
@given(
    items=st.lists(st.one_of(observation, json_value), max_size=8),
    max_age=st.integers(min_value=1, max_value=36_500),
)
def test_lab_reader_never_raises(items: list[Any], max_age: int) -> None:
    reading = read_labs(views(items), terminology=TERMINOLOGY, as_of=AS_OF, max_age_days=max_age)
    for analyte, value in reading.labs.items():
        assert analyte == value.analyte and analyte in CANONICAL_UNITS
        assert value.value > 0 and value.value == value.value  # positive, not NaN
    assert all(isinstance(note, str) for note in reading.notes)


@FAST
@given(
    items=st.lists(st.one_of(order, json_value), max_size=6),
    index=st.dictionaries(st.sampled_from(["Medication/m", "x"]), maybe(medication), max_size=2),
)
def test_medication_reader_never_raises(items: list[Any], index: dict[str, Any]) -> None:
    meds = read_medications(items, terminology=TERMINOLOGY, medication_index=index)
    for med in meds:
        assert med.groups <= set(TERMINOLOGY.drug_group_ids)
        assert all(dose >= 0 for dose in med.daily_doses_mg)
        assert isinstance(med.display, str) and med.display


@FAST
@given(items=st.lists(st.one_of(condition, json_value), max_size=6))
def test_condition_reader_never_raises(items: list[Any]) -> None:
    reading = read_conditions(items, terminology=TERMINOLOGY)
    for fact in reading.conditions:
        assert {g.split(":")[0] for g in fact.groups} <= set(TERMINOLOGY.condition_group_ids)


@FAST
@given(
    bundle=st.one_of(
        json_value,
        st.fixed_dictionaries(
            {
                "entry": maybe(
                    st.lists(
                        st.one_of(
                            order, st.fixed_dictionaries({"resource": maybe(order)}), json_value
                        ),
                        max_size=4,
                    )
                )
            }
        ),
    ),
    selections=st.one_of(st.none(), st.lists(json_leaf, max_size=3)),
)
def test_draft_order_reader_never_raises(bundle: Any, selections: Any) -> None:
    orders = read_draft_orders(bundle, selections, terminology=TERMINOLOGY, medication_index={})
    if selections is None:
        assert all(o.selected for o in orders)


@FAST
@given(
    patient=maybe(st.fixed_dictionaries({}, optional={"birthDate": dates, "gender": json_leaf})),
    items=anything,
)
def test_build_facts_never_raises(patient: Any, items: list[Any]) -> None:
    result = build_facts(
        patient=patient,
        observations=views(items),
        medications=items,
        conditions=items,
        medication_index={},
        terminology=TERMINOLOGY,
        as_of=AS_OF,
        lab_max_age_days=365,
        patient_id="p",
    )
    assert result.age_years is None or 0 <= result.age_years <= 130
