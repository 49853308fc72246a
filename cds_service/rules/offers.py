"""What a "stop this drug" card offers: remove the draft, or remove it and start baclofen."""

from __future__ import annotations

from cds_service.clinical.types import Medication
from cds_service.rules.baclofen_fit import BaclofenFit
from cds_service.rules.types import RuleInput, SuggestionKind, SuggestionSpec

SWAP_SUGGESTIONS: frozenset[SuggestionKind] = frozenset({"remove-order", "replace-with-baclofen"})


def swap_suggestions(
    inp: RuleInput, order: Medication, fit: BaclofenFit, *, offer_baclofen: bool = True
) -> tuple[SuggestionSpec, ...]:
    """Order hooks only (patient-view has no draft to delete), and only for an order with an id."""
    if not inp.is_order_hook or not order.reference:
        return ()
    out = [SuggestionSpec("remove-order", order_reference=order.reference, recommended=True)]
    if offer_baclofen and fit.offer:
        out.append(
            SuggestionSpec(
                "replace-with-baclofen", order_reference=order.reference, schedule=fit.schedule
            )
        )
    return tuple(out)
