"""The hook's draft orders (context.draftOrders) -> Medication, marking the selected ones.

Real draftOrders are not always tidy: a Bundle without `type`, entries that are the resource
itself instead of `{resource: ...}` (the legacy PDDI medication-prescribe request), entries
that are not objects, orders without an id (HAPI's test request). Every resourceType is
accepted in the Bundle, but only MedicationRequest and MedicationOrder become Medications.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cds_service.clinical.fhirjson import dicts
from cds_service.clinical.medications import read_medication
from cds_service.clinical.terminology import Terminology
from cds_service.clinical.types import Medication


def draft_order_resources(draft_orders: object) -> Iterator[dict[str, Any]]:
    """The resources of a draftOrders Bundle, wrapped in `resource` or not."""
    if not isinstance(draft_orders, dict):
        return
    for entry in dicts(draft_orders.get("entry")):
        resource = entry.get("resource")
        if isinstance(resource, dict):
            yield resource
        elif isinstance(entry.get("resourceType"), str):
            yield entry


def selection_key(selection: object) -> str | None:
    """ "Type/id" of a selections item; absolute URLs and _history suffixes are trimmed."""
    if not isinstance(selection, str):
        return None
    path = selection.strip().split("/_history/")[0].rstrip("/")
    segments = path.split("/")
    return "/".join(segments[-2:]) if len(segments) >= 2 and all(segments[-2:]) else None


def read_draft_orders(
    draft_orders: dict[str, Any],
    selections: Sequence[str] | None,
    *,
    terminology: Terminology,
    medication_index: Mapping[str, dict[str, Any]],
) -> tuple[Medication, ...]:
    """Medications for the draft orders. `selections` None (order-sign): all are selected."""
    wanted = None if selections is None else {selection_key(s) for s in selections} - {None}
    out: list[Medication] = []
    for resource in draft_order_resources(draft_orders):
        rtype, rid = resource.get("resourceType"), resource.get("id")
        key = f"{rtype}/{rid.strip()}" if isinstance(rid, str) and rid.strip() else None
        selected = wanted is None or (key is not None and key in wanted)
        med = read_medication(
            resource,
            terminology=terminology,
            medication_index=medication_index,
            selected=selected,
        )
        if med is not None:
            out.append(med)
    return tuple(out)
