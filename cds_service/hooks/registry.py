"""The services this CDS service offers: id, hook, descriptive text and prefetch templates.

Prefetch follows from what the rules read: the Observation query lists exactly the LOINC codes
the terminology data knows for the analytes the rules use. Templates keep to the CDS Hooks 2.0
query restrictions (instance read; type search with reference, token-equality and `_sort`/
`_count` parameters only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_service.cdshooks.hooks import HOOKS, HookName
from cds_service.cdshooks.request import RequestDecoder
from cds_service.errors import UnknownService

_USAGE = (
    "Needs FHIR R4 read access (prefetch or fhirServer + fhirAuthorization) to the patient's "
    "Patient, Observation, MedicationRequest and Condition resources, and to Medication when "
    "orders use medicationReference. Without them the service answers 412. Cards are decision "
    "support for clinicians, not orders."
)


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    hook: HookName
    title: str
    description: str
    prefetch: dict[str, str]
    extension: Mapping[str, Any] = field(default_factory=dict)  # e.g. source attributes

    def discovery_entry(self) -> dict[str, Any]:
        entry = {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(self.prefetch),
            "usageRequirements": _USAGE,
        }
        if self.extension:
            entry["extension"] = dict(self.extension)
        return entry


def prefetch_templates(observation_codes: list[str]) -> dict[str, str]:
    """The four prefetch queries, one per key; `observation_codes` are `system|code` tokens."""
    codes = ",".join(observation_codes)
    return {
        "patient": "Patient/{{context.patientId}}",
        "observations": (
            "Observation?patient={{context.patientId}}"
            f"&code={codes}&_sort=-date&_count=200"
        ),
        "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
        "conditions": (
            "Condition?patient={{context.patientId}}&clinical-status=active,recurrence,relapse"
        ),
    }


class Registry:
    """Immutable lookup of services by id."""

    def __init__(self, services: list[Service]) -> None:
        ids = [s.id for s in services]
        assert len(ids) == len(set(ids)), "service ids must be unique (the sandbox merges them)"
        unanswered = set(HOOKS) - {s.hook for s in services}
        if unanswered:  # a start-up check: every hook of cdshooks/hooks.py has a service
            raise RuntimeError(f"no service answers the hook(s) {sorted(unanswered)}")
        self._by_id = {s.id: s for s in services}
        keys = dict.fromkeys(key for s in services for key in s.prefetch)
        self.decoder = RequestDecoder(keys)  # hook call bodies, for these services' prefetch

    def get(self, service_id: str) -> Service:
        try:
            return self._by_id[service_id]
        except KeyError:
            # The id comes from the caller's URL: not echoed (GET /cds-services lists ours).
            raise UnknownService(
                "No CDS service with this id; GET /cds-services lists the services."
            ) from None

    def for_hook(self, hook: str) -> Service:
        """The service answering `hook` (ours are one per hook), for callers without an id."""
        for service in self._by_id.values():
            if service.hook == hook:
                return service
        raise UnknownService(
            f"No CDS service here answers the '{hook[:64]}' hook (use --service)."
        )

    def knows(self, service_id: str) -> bool:
        return service_id in self._by_id

    def discovery(self) -> dict[str, Any]:
        return {"services": [s.discovery_entry() for s in self._by_id.values()]}

    def __iter__(self) -> Iterator[Service]:
        return iter(self._by_id.values())


def build_registry(
    observation_codes: list[str],
    extension: Callable[[HookName], Mapping[str, Any]] = lambda _hook: {},
) -> Registry:
    """The three services; `extension(hook)` is each one's discovery `extension`."""
    templates = prefetch_templates(observation_codes)
    return Registry(
        [
            Service(
                id="muscle-cramps-patient-view",
                hook="patient-view",
                title="Muscle cramps: medication safety and work-up",
                description=(
                    "When a chart is opened, reviews the patient's active medicines, labs and "
                    "problems against the lower-extremity muscle cramp guideline: drugs to avoid "
                    "(quinine, quinidine, cyclobenzaprine, benzodiazepines in older adults), "
                    "magnesium and potassium only for documented deficits, baclofen titration "
                    "with kidney, age and liver guard-rails, and the work-up for secondary cramps."
                ),
                prefetch=templates,
                extension=extension("patient-view"),
            ),
            Service(
                id="muscle-cramps-order-select",
                hook="order-select",
                title="Muscle cramps: order check while selecting",
                description=(
                    "Checks newly selected medication orders (quinine, quinidine, cyclobenzaprine, "
                    "benzodiazepines, magnesium, potassium, baclofen) against the muscle cramp "
                    "guideline, this patient's kidney function, electrolytes, age and problems."
                ),
                prefetch=templates,
                extension=extension("order-select"),
            ),
            Service(
                id="muscle-cramps-order-sign",
                hook="order-sign",
                title="Muscle cramps: order check before signing",
                description=(
                    "Checks every draft medication order about to be signed against the muscle "
                    "cramp guideline, this patient's kidney function, electrolytes, age and "
                    "problems."
                ),
                prefetch=templates,
                extension=extension("order-sign"),
            ),
        ]
    )
