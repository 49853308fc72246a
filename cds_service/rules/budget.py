"""The alert budget: how many cards one call may show (§11.6; issue 10).

Interruptive alerts are overridden 49-96% of the time (van der Sijs, JAMIA 2006), and a
service that shows eight cards on an ordinary chart gets switched off. So:
- at most one card per order (per draft order in order hooks, per active order in
  patient-view): the most urgent, then the earlier rule;
- patient-view: at most `patient_view_max` cards in all (default 3), most urgent first;
- order hooks: at most one patient-level card (work-up) besides the order cards;
- a critical card is never dropped.
"""

from __future__ import annotations

from collections.abc import Hashable

from cds_service.clinical.types import Medication
from cds_service.rules.types import INDICATOR_RANK, AlertBudget, Finding, Hook


def order_key(order: Medication | None) -> Hashable:
    """Which order a card is about (None: the patient)."""
    if order is None:
        return None
    if order.reference:
        return order.reference
    return (order.display, tuple(sorted(order.groups)))


def apply_budget(findings: list[Finding], hook: Hook, budget: AlertBudget) -> list[Finding]:
    """The findings that may be shown, in their original order."""
    ranked = sorted(range(len(findings)), key=lambda i: INDICATOR_RANK[findings[i].indicator])
    shown: dict[Hashable, int] = {}
    keep: set[int] = set()
    for i in ranked:
        finding = findings[i]
        key = order_key(finding.order)
        if key is None:
            limit = budget.patient_level_in_order_hooks if hook != "patient-view" else None
        else:
            limit = budget.per_order
        critical = finding.indicator == "critical"
        if not critical and limit is not None and shown.get(key, 0) >= limit:
            continue
        if hook == "patient-view" and not critical and len(keep) >= budget.patient_view_max:
            continue
        shown[key] = shown.get(key, 0) + 1
        keep.add(i)
    return [f for i, f in enumerate(findings) if i in keep]
