"""The acceptance report's rows: plain values the CLI prints as a table or JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ReasonCount:
    """How often clinicians overrode a rule's card with one coded reason."""

    system: str | None
    code: str
    display: str | None
    count: int

    def label(self) -> str:
        return self.display or self.code


@dataclass(frozen=True, slots=True)
class RuleReport:
    """One rule's cards and their outcomes (each card counted once, by its latest outcome).

    `silent`: cards the rule produced while in silent mode: audited, never shown, so never
    answered; a committee reads them as "how often it would have fired"."""

    rule_id: str
    served: int
    accepted: int
    overridden: int
    reasons: tuple[ReasonCount, ...]
    silent: int = 0

    @property
    def answered(self) -> int:
        return self.accepted + self.overridden

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted among the cards someone acted on; None before any feedback."""
        return self.accepted / self.answered if self.answered else None

    @property
    def accepted_per_served(self) -> float | None:
        """Accepted among all cards shown (unanswered cards were ignored, or their EHR sends
        no feedback)."""
        return self.accepted / self.served if self.served else None

    @property
    def overridden_without_reason(self) -> int:
        return self.overridden - sum(r.count for r in self.reasons)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "served": self.served,
            "silent": self.silent,
            "accepted": self.accepted,
            "overridden": self.overridden,
            "acceptanceRate": self.acceptance_rate,
            "acceptedPerServed": self.accepted_per_served,
            "overriddenWithoutReason": self.overridden_without_reason,
            "overrideReasons": [
                {"system": r.system, "code": r.code, "display": r.display, "count": r.count}
                for r in self.reasons
            ],
        }
