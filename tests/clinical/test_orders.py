"""Draft orders of order-select / order-sign, tidy or not, with the selected ones marked."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.orders import read_draft_orders, selection_key
from cds_service.clinical.terminology import Terminology
from tests.clinical.conftest import HOOKS, load_json, med_request


def read(terminology: Terminology, bundle: Any, selections: list[str] | None) -> Any:
    return read_draft_orders(bundle, selections, terminology=terminology, medication_index={})


def test_order_select_marks_only_the_selected_orders(terminology: Terminology) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": med_request(rxnorm="828348", mid="a")},
            {"resource": med_request(rxnorm="997010", mid="b")},
        ],
    }
    orders = read(terminology, bundle, ["MedicationRequest/b"])
    assert [(o.reference, o.selected) for o in orders] == [
        ("MedicationRequest/a", False),
        ("MedicationRequest/b", True),
    ]
    assert all(o.selected for o in read(terminology, bundle, None))  # order-sign
    assert not any(o.selected for o in read(terminology, bundle, []))


def test_library_order_select_example(terminology: Terminology) -> None:
    context = load_json(HOOKS / "cds-hooks-library-1.0.1__order-select-context-R4-example.json")
    context = context["context"]
    orders = read(terminology, context["draftOrders"], context["selections"])
    assert len(orders) == 1  # the NutritionOrder is not a medication
    assert orders[0].reference == "MedicationRequest/smart-MedicationRequest-103"
    assert orders[0].selected and orders[0].status == "draft"


def test_library_order_sign_example_stu3_dosage(terminology: Terminology) -> None:
    context = load_json(HOOKS / "cds-hooks-library-1.0.1__order-sign-context-R4-example.json")
    orders = read(terminology, context["context"]["draftOrders"], None)
    assert len(orders) == 1 and orders[0].selected


def test_pddi_draft_without_id_or_bundle_type(terminology: Terminology) -> None:
    request = load_json(
        HOOKS / "hl7-pddi-cds__digoxin-cyclosporine-order-sign-no-coordination.json"
    )
    orders = read(terminology, request["context"]["draftOrders"], None)
    assert len(orders) == 1
    assert orders[0].reference is None and orders[0].selected
    assert orders[0].daily_doses_mg == (0.2,)  # 1 {pill} daily x 0.2 mg
    select = load_json(
        HOOKS / "hl7-pddi-cds__digoxin-cyclosporine-order-select-no-coordination.json"
    )
    selected = read(terminology, select["context"]["draftOrders"], select["context"]["selections"])
    assert [(o.reference, o.selected) for o in selected] == [
        ("MedicationRequest/digoxin-order-select-test", True)
    ]


def test_hapi_orders_with_only_an_id_name_no_drug(terminology: Terminology) -> None:
    """HAPI's test request drafts MedicationRequests with only an id: no drug, so no order."""
    request = load_json(HOOKS / "hapi-fhir__cds-hooks-test__CdsServiceRequestJson.json")
    orders = read(terminology, request["context"]["draftOrders"], request["context"]["selections"])
    assert orders == ()


def test_legacy_bare_entries_without_resource_wrapper(terminology: Terminology) -> None:
    request = load_json(HOOKS / "hl7-pddi-cds__request-warfarin-nsaid-scenario-01.json")
    orders = read(terminology, request["context"]["medications"], None)
    assert len(orders) == 1
    assert orders[0].display.startswith("Diclofenac")


def test_service_requests_only_is_an_empty_result(terminology: Terminology) -> None:
    request = load_json(HOOKS / "hapi-fhir__cds-hooks-test__ASLPCrdServiceRequest.json")
    assert read(terminology, request["context"]["draftOrders"], None) == ()


@pytest.mark.parametrize(
    "bundle",
    [
        {},
        {"entry": None},
        {"entry": "x"},
        {"entry": [None, 1, "x", [], {}]},
        [],
        None,
        {"entry": [{"resource": "nope"}, {"resource": {"resourceType": "MedicationOrder"}}]},
    ],
)
def test_malformed_bundles_never_raise(terminology: Terminology, bundle: Any) -> None:
    orders = read(terminology, bundle, None)
    assert len(orders) <= 1


@pytest.mark.parametrize(
    ("selection", "key"),
    [
        ("MedicationRequest/1", "MedicationRequest/1"),
        ("https://ehr.example.org/fhir/MedicationRequest/1", "MedicationRequest/1"),
        ("MedicationRequest/1/_history/2", "MedicationRequest/1"),
        ("MedicationRequest/", None),
        ("nothing", None),
        (5, None),
    ],
)
def test_selection_keys(selection: Any, key: str | None) -> None:
    assert selection_key(selection) == key
