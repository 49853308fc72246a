"""Two clients applying our suggestions: the CDS Hooks Sandbox's Rx screens, and an EHR that
applies every action (the spec's rule).

The sandbox half is transcribed from its source (cds-hooks/sandbox@3b7e255, read, not copied):
`createFhirResource` in src/reducers/medication-reducers.js builds the R4 draft the Rx screens
send, and that file's TAKE_SUGGESTION case applies a suggestion: it walks the actions and stops
at the first it can apply (a `create`/`update` whose resource has a `medicationCodeableConcept`
with `text` and `coding[0].code` swaps the drug; a `delete` empties the form); anything else
is skipped with a console warning. Rx Sign builds the same draft without the reason.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from typing import Any

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
DRAFT_ID = "request-123"
DRAFT_REFERENCE = f"MedicationRequest/{DRAFT_ID}"
USER = "Practitioner/COREPRACTITIONER1"
_FREQUENCIES = {"daily": 1, "bid": 2, "tid": 3, "qid": 4}


@dataclass(slots=True)
class RxForm:
    """The Rx View form: the chosen condition and medication, and its default instructions."""

    patient_id: str
    today: date
    condition: dict[str, Any] | None = None  # the chosen Condition's `code` (CodeableConcept)
    medication: tuple[str, str] | None = None  # (RxNorm code, name)
    pills: int = 1
    frequency: str = "daily"
    supply_days: int = 30
    applied: list[str] = field(default_factory=list)  # what each accepted suggestion did

    def draft(self, *, with_reason: bool = True) -> dict[str, Any]:
        """`createFhirResource` for an R4 server (Rx Sign passes no conditions: no reason)."""
        resource: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "id": DRAFT_ID,
            "status": "draft",
            "subject": {"reference": f"Patient/{self.patient_id}"},
            "authoredOn": self.today.isoformat(),
        }
        if self.medication is not None:
            code, name = self.medication
            resource["dosageInstruction"] = [
                {
                    "timing": {
                        "repeat": {
                            "frequency": _FREQUENCIES[self.frequency],
                            "period": 1,
                            "periodUnit": "d",
                        }
                    },
                    "doseAndRate": [
                        {"doseQuantity": {"value": self.pills, "system": UCUM, "code": "{pill}"}}
                    ],
                }
            ]
            resource["dispenseRequest"] = {
                "expectedSupplyDuration": {
                    "value": self.supply_days, "unit": "days", "system": UCUM, "code": "d",
                }
            }  # fmt: skip
            resource["intent"] = "order"
            resource["category"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                        "code": "community",
                    }
                ]
            }
            resource["medicationCodeableConcept"] = {
                "text": name,
                "coding": [{"display": name, "system": RXNORM, "code": code}],
            }
        if with_reason and self.condition is not None:
            resource["reasonCode"] = copy.deepcopy(self.condition)
        return resource

    def take_suggestion(self, suggestion: dict[str, Any]) -> bool:
        """The sandbox's TAKE_SUGGESTION: True when the form changed (order-select fires)."""
        for action in suggestion.get("actions") or []:
            kind = action.get("type")
            resource = action.get("resource") or {}
            if kind in ("create", "update") and "medicationCodeableConcept" in resource:
                concept = resource["medicationCodeableConcept"]
                codings = concept.get("coding") or [{}]
                if concept.get("text") and codings[0].get("code"):
                    before = self.medication
                    self.medication = (codings[0]["code"], concept["text"])
                    self.applied.append(f"swapped to {concept['text']}")
                    return before != self.medication
            elif kind == "delete":
                before = self.medication
                self.medication = None
                self.applied.append("emptied the draft")
                return before is not None
        self.applied.append("nothing")
        return False


def apply_every_action(drafts: list[dict[str, Any]], suggestion: dict[str, Any]) -> list[dict[str, Any]]:
    """An EHR that applies all of a suggestion's actions: create adds, update replaces by id,
    delete removes by `resourceId`."""
    out = [copy.deepcopy(d) for d in drafts]
    for action in suggestion.get("actions") or []:
        kind, resource = action.get("type"), action.get("resource")
        if kind == "create" and isinstance(resource, dict):
            out.append(copy.deepcopy(resource))
        elif kind == "update" and isinstance(resource, dict):
            key = (resource.get("resourceType"), resource.get("id"))
            out = [d for d in out if (d.get("resourceType"), d.get("id")) != key] + [resource]
        elif kind == "delete":
            out = [d for d in out if f"{d.get('resourceType')}/{d.get('id')}" != action.get("resourceId")]
    return out


def describe_orders(resources: list[dict[str, Any]]) -> list[str]:
    """`MedicationRequest 197391`, `ServiceRequest 3016-3`: type and first code of each order."""
    out = []
    for resource in resources:
        concept = resource.get("medicationCodeableConcept") or resource.get("code") or {}
        codings = concept.get("coding") or [{}]
        out.append(f"{resource.get('resourceType')} {codings[0].get('code', '-')}")
    return out
