"""Suggestions as CDS Hooks actions carrying FHIR R4 resources.

- remove-order: `delete` by `resourceId` ("MedicationRequest/<id>"), never a resource.
- add-baclofen: `create` a MedicationRequest (RxNorm coded, one Dosage per titration step).
- replace-with-baclofen: `create` baclofen, then `delete` the draft, in one suggestion.
- order-labs: one suggestion per lab, each a single `create` of a LOINC-coded ServiceRequest.

The shapes follow what clients really do with a suggestion (docs/sandbox.md). The spec applies
every action of an accepted suggestion; the CDS Hooks Sandbox applies only the first one it can
(Rx View: a `create`/`update` whose resource has a `medicationCodeableConcept` swaps the draft's
medication; a `delete` empties the draft) and ignores the rest. So:

- the swap puts `create` first: the sandbox swaps the draft to baclofen (a replacement), and an
  EHR that applies both creates baclofen and deletes the draft (the same replacement). With the
  delete first the sandbox only emptied the draft, yet the click was recorded as accepted;
- a suggestion never bundles several orders: with one lab per suggestion, a client that applies
  one action per suggestion orders exactly what was accepted, and feedback names that one lab.

Created resources are `status: draft`, `intent: order`: accepting a suggestion adds an unsigned
order to the clinician's ordering session, exactly like the EHR's own draft orders (the
CDS Hooks sandbox sends draft/order); the clinician reviews and signs it. "proposal" would
mark a request without authority to act, which is the status `draft` already expresses, and
some EHRs cannot sign a proposal as an order. Codes come from cards/_orderables.yaml only.
"""

from __future__ import annotations

from typing import Any, Literal

from cds_service.cards.catalog import CardCatalog
from cds_service.cards.content import Schedule, Step
from cds_service.cards.ids import new_id
from cds_service.cdshooks.response import Action, Suggestion
from cds_service.rules.types import DELETING_KINDS, Finding, RuleInput, SuggestionSpec


def build_suggestions(
    finding: Finding, inp: RuleInput, catalog: CardCatalog
) -> tuple[list[Suggestion], Literal["at-most-one", "any"] | None]:
    """The card's suggestions and its selectionBehavior (None when there are none)."""
    built: list[tuple[SuggestionSpec, Suggestion]] = []
    for spec in finding.suggestions:
        built.extend((spec, s) for s in _suggestions(spec, finding, inp, catalog))
    if not built:
        return [], None
    # Removing the drug and replacing it are alternatives: the clinician picks one.
    alternatives = len(built) > 1 and any(s.kind in DELETING_KINDS for s, _ in built)
    return [s for _, s in built], "at-most-one" if alternatives else "any"


def _suggestions(
    spec: SuggestionSpec, finding: Finding, inp: RuleInput, catalog: CardCatalog
) -> list[Suggestion]:
    if spec.kind == "order-labs":
        return [_lab_suggestion(spec, lab_id, finding, inp, catalog) for lab_id in spec.labs]
    one = _drug_suggestion(spec, finding, inp, catalog)
    return [one] if one is not None else []


def _drug_suggestion(
    spec: SuggestionSpec, finding: Finding, inp: RuleInput, catalog: CardCatalog
) -> Suggestion | None:
    """remove-order, add-baclofen or replace-with-baclofen (create first, then delete)."""
    deleting = spec.kind in DELETING_KINDS
    if deleting and (not inp.is_order_hook or not spec.order_reference):
        return None  # patient-view has no draft to delete; an order without an id can't be named
    actions: list[Action] = []
    schedule: Schedule | None = None
    if spec.kind in ("add-baclofen", "replace-with-baclofen"):
        if spec.schedule is None:
            return None
        schedule = catalog.orderables.baclofen_schedules[spec.schedule]
        actions.append(
            Action(
                type="create",
                description=catalog.baclofen_action_text(spec.schedule),
                resource=baclofen_request(schedule, _patient(inp), catalog),
            )
        )
    if deleting and spec.order_reference:
        drug = finding.order.display if finding.order else ""
        actions.append(
            Action(
                type="delete",
                description=catalog.action_text("delete", drug=drug),
                resourceId=spec.order_reference,
            )
        )
    if not actions:
        return None
    label = catalog.suggestion_label(
        finding.card_key, spec.kind, schedule=schedule.summary if schedule else None, labs=()
    )
    return Suggestion(
        label=label, uuid=new_id(), isRecommended=spec.recommended or None, actions=actions
    )


def _lab_suggestion(
    spec: SuggestionSpec, lab_id: str, finding: Finding, inp: RuleInput, catalog: CardCatalog
) -> Suggestion:
    """One lab, one `create`: what is accepted is exactly what gets ordered."""
    label = catalog.suggestion_label(
        finding.card_key,
        spec.kind,
        schedule=None,
        labs=(catalog.orderables.labs[lab_id].name,),
    )
    action = Action(
        type="create",
        description=catalog.lab_action_text(lab_id),
        resource=lab_request(lab_id, _patient(inp), catalog),
    )
    return Suggestion(
        label=label, uuid=new_id(), isRecommended=spec.recommended or None, actions=[action]
    )


def _patient(inp: RuleInput) -> str:
    return f"Patient/{inp.facts.patient_id}"


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _dosage(sequence: int, step: Step, ucum: str) -> dict[str, Any]:
    repeat: dict[str, Any] = {"frequency": step.per_day, "period": 1, "periodUnit": "d"}
    if step.days:
        repeat["boundsDuration"] = {"value": step.days, "unit": "days", "system": ucum, "code": "d"}
    return {
        "sequence": sequence,
        "text": step.text,
        "timing": {"repeat": repeat},
        "doseAndRate": [
            {
                "doseQuantity": {
                    "value": _number(step.dose_mg),
                    "unit": "mg",
                    "system": ucum,
                    "code": "mg",
                }
            }
        ],
    }


def baclofen_request(schedule: Schedule, patient: str, catalog: CardCatalog) -> dict[str, Any]:
    """A draft MedicationRequest with the titration as sequenced Dosage entries."""
    systems = catalog.orderables.systems
    reason = catalog.orderables.cramp_reason
    return {
        "resourceType": "MedicationRequest",
        "id": new_id(),
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {"system": systems["rxnorm"], "code": schedule.rxnorm, "display": schedule.display}
            ],
            "text": schedule.display,
        },
        "subject": {"reference": patient},
        "reasonCode": [
            {
                "coding": [
                    {"system": systems[c.system], "code": c.code, "display": c.display}
                    for c in reason.codings
                ],
                "text": reason.text,
            }
        ],
        "note": [{"text": " ".join(schedule.note.split())}],
        "dosageInstruction": [
            _dosage(i, step, systems["ucum"]) for i, step in enumerate(schedule.steps, start=1)
        ],
    }


def lab_request(lab_id: str, patient: str, catalog: CardCatalog) -> dict[str, Any]:
    """A draft ServiceRequest for one LOINC-coded lab test."""
    lab = catalog.orderables.labs[lab_id]
    return {
        "resourceType": "ServiceRequest",
        "id": new_id(),
        "status": "draft",
        "intent": "order",
        "code": {
            "coding": [
                {
                    "system": catalog.orderables.systems["loinc"],
                    "code": lab.loinc,
                    "display": lab.display,
                }
            ],
            "text": lab.text,
        },
        "subject": {"reference": patient},
    }
