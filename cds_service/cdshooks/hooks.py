"""The hooks this service answers, and what each one's context must carry: the one list.

Adding a hook: add its name to `HookName` and a `HookSpec` to `HOOKS` (the import-time check
below fails if the two differ), then a service for it in `hooks/registry.py` (the Registry
refuses to start without one); docs/extending.md has the whole recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

HookName = Literal["patient-view", "order-select", "order-sign"]


@dataclass(frozen=True, slots=True)
class HookSpec:
    """One hook's context rules (CDS Hooks 2.0 hook definitions)."""

    required: tuple[str, ...]  # context fields that must be present and non-empty
    draft_orders: bool = False  # context.draftOrders is a Bundle of the orders being written


HOOKS: dict[str, HookSpec] = {
    "patient-view": HookSpec(required=("userId", "patientId")),  # 1.0
    "order-select": HookSpec(  # 1.0: `selections` name the newly chosen drafts
        required=("userId", "patientId", "selections", "draftOrders"), draft_orders=True
    ),
    "order-sign": HookSpec(required=("userId", "patientId", "draftOrders"), draft_orders=True),
}

if set(HOOKS) != set(get_args(HookName)):  # pragma: no cover - a start-up check
    raise RuntimeError(f"HookName and HOOKS list different hooks: {sorted(HOOKS)}")
