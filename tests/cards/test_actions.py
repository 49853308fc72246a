"""Suggestion actions: delete by resourceId; create baclofen / labs with verified codes."""

from __future__ import annotations

from cds_service.cards.render import render_card
from cds_service.cards.templates import sample_values
from cds_service.rules import CARD_SPECS
from cds_service.rules.types import SuggestionSpec
from tests.rules.conftest import facts, inp, med

# Codes copied from shared/knowledge/codes.json entries that carry `verified_by` (2026-11).
# Any code in cards/_orderables.yaml must be one of these: a new code needs a new check here.
VERIFIED = {
    "http://www.nlm.nih.gov/research/umls/rxnorm": {"197391", "430902"},
    "http://loinc.org": {"19123-9", "2823-3", "17861-6", "2157-6", "3016-3"},
    "http://snomed.info/sct": {"55300003"},
    "http://hl7.org/fhir/sid/icd-10-cm": {"R25.2"},
}
UCUM = "http://unitsofmeasure.org"


def _card(catalog, key, *suggestions, hook="order-select"):
    spec = CARD_SPECS[key]
    values = sample_values(spec.values, ("magnesium",), worst=False)
    finding = spec.finding(
        order=med("quinine", ref="MedicationRequest/q1"),
        evidence=(),
        values=values,
        suggestions=suggestions,
    )
    return render_card(finding, inp(hook, facts()), catalog)


REMOVE = SuggestionSpec("remove-order", order_reference="MedicationRequest/q1", recommended=True)
REPLACE = SuggestionSpec(
    "replace-with-baclofen", order_reference="MedicationRequest/q1", schedule="easl-cirrhosis"
)


def test_delete_names_the_draft_by_resource_id_only(catalog):
    card = _card(catalog, "quinine-for-cramps", REMOVE)
    [action] = card.suggestions[0].actions
    assert action.type == "delete" and action.resourceId == "MedicationRequest/q1"
    assert action.resource is None and action.description
    assert "resource" not in action.to_json()


def test_remove_or_replace_are_alternatives(catalog):
    card = _card(catalog, "quinine-for-cramps", REMOVE, REPLACE)
    assert card.selectionBehavior == "at-most-one"
    assert sum(1 for s in card.suggestions if s.isRecommended) == 1
    create, delete = card.suggestions[1].actions
    # create first: the sandbox applies only the first action it can, and then swaps the
    # draft's drug (a replacement); with the delete first it only emptied the draft.
    assert (create.type, delete.type) == ("create", "delete")
    assert create.resource["medicationCodeableConcept"]["text"]
    assert create.resource["medicationCodeableConcept"]["coding"][0]["code"] == "197391"
    assert delete.resourceId == "MedicationRequest/q1"


def test_baclofen_titration_is_three_sequenced_dosages(catalog):
    card = _card(catalog, "quinine-for-cramps", REPLACE)
    resource = card.suggestions[0].actions[0].resource
    assert resource["resourceType"] == "MedicationRequest"
    assert (resource["status"], resource["intent"]) == ("draft", "order")
    assert resource["subject"] == {"reference": "Patient/pat-1"}
    assert resource["id"]
    [coding] = resource["medicationCodeableConcept"]["coding"]
    assert (coding["code"], coding["display"]) == ("197391", "baclofen 10 MG Oral Tablet")
    dosages = resource["dosageInstruction"]
    assert [d["sequence"] for d in dosages] == [1, 2, 3]
    assert [d["timing"]["repeat"]["frequency"] for d in dosages] == [1, 2, 3]
    doses = [d["doseAndRate"][0]["doseQuantity"] for d in dosages]
    assert all(q == {"value": 10, "unit": "mg", "system": UCUM, "code": "mg"} for q in doses)
    bounds = [d["timing"]["repeat"].get("boundsDuration") for d in dosages]
    assert bounds[:2] == [{"value": 7, "unit": "days", "system": UCUM, "code": "d"}] * 2
    assert bounds[2] is None
    daily = [
        d["timing"]["repeat"]["frequency"] * q["value"] for d, q in zip(dosages, doses, strict=True)
    ]
    assert daily == [10, 20, 30]
    assert "abruptly" in resource["note"][0]["text"]


def test_start_low_schedule_uses_the_5_mg_tablet(catalog):
    spec = SuggestionSpec("add-baclofen", schedule="start-low")
    card = _card(catalog, "cirrhosis-cramps", spec, hook="patient-view")
    resource = card.suggestions[0].actions[0].resource
    assert resource["medicationCodeableConcept"]["coding"][0]["code"] == "430902"
    [dosage] = resource["dosageInstruction"]
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 5
    assert card.selectionBehavior == "any"


def test_each_lab_is_its_own_single_action_suggestion(catalog):
    spec = SuggestionSpec("order-labs", labs=("magnesium", "potassium", "tsh"), recommended=True)
    card = _card(catalog, "magnesium-check-levels", spec)
    assert [s.label for s in card.suggestions] == [
        "Order magnesium", "Order potassium", "Order TSH"
    ]
    assert all(len(s.actions) == 1 for s in card.suggestions)
    resources = [s.actions[0].resource for s in card.suggestions]
    assert [r["code"]["coding"][0]["code"] for r in resources] == ["19123-9", "2823-3", "3016-3"]
    assert all(r["resourceType"] == "ServiceRequest" for r in resources)
    assert all((r["status"], r["intent"]) == ("draft", "order") for r in resources)
    assert len({r["id"] for r in resources}) == 3
    assert len({s.uuid for s in card.suggestions}) == 3
    # Independent choices: any of them, each recommended as the rule asked.
    assert card.selectionBehavior == "any"
    assert all(s.isRecommended for s in card.suggestions)


def test_fresh_ids_on_every_render(catalog):
    first = _card(catalog, "quinine-for-cramps", REPLACE)
    second = _card(catalog, "quinine-for-cramps", REPLACE)
    assert first.uuid != second.uuid
    assert first.suggestions[0].uuid != second.suggestions[0].uuid
    ids = {c.suggestions[0].actions[0].resource["id"] for c in (first, second)}
    assert len(ids) == 2


def test_every_orderable_code_is_verified(catalog):
    orderables = catalog.orderables
    systems = orderables.systems
    used = [(systems["loinc"], lab.loinc) for lab in orderables.labs.values()]
    used += [(systems["rxnorm"], s.rxnorm) for s in orderables.baclofen_schedules.values()]
    used += [(systems[c.system], c.code) for c in orderables.cramp_reason.codings]
    for system, code in used:
        assert code in VERIFIED.get(system, set()), (system, code)
