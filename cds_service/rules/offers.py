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


def swap_values(suggestions: tuple[SuggestionSpec, ...], fit: BaclofenFit) -> dict[str, object]:
    """What the card text may say about the baclofen alternative: only what is really offered
    (in patient-view, or for an order without an id, there is no button, so no mention)."""
    replace = next((s for s in suggestions if s.kind == "replace-with-baclofen"), None)
    return {
        "baclofen_offer": replace is not None,
        "baclofen_start_low": replace is not None and replace.schedule == "start-low",
        "cirrhosis": fit.cirrhosis,
    }
