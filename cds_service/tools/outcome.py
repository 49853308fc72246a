"""What the service answered, in one shape whether it came in-process or over HTTP.

In-process the rule id and card key come with each RenderedCard. Over HTTP a card only carries
`source.topic.code` and its text, so the card key is recovered from the card content (cards/):
the topic code narrows the candidates, the indicator and the summary template (its fixed text
around the `{{ }}` values) pick the one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from cds_service.cards.catalog import default_location
from cds_service.cards.render import RenderedCard
from cds_service.rules import CARD_SPECS

_TAG = re.compile(r"(\{\{.*?\}\}|\{%.*?%\})")


_BLOCKS = {"if": 1, "for": 1, "endif": -1, "endfor": -1}


def summary_pattern(template: str) -> re.Pattern[str]:
    """A regex a rendered summary of `template` matches: the literal text outside any
    `{% if %}` / `{% for %}` block, in order; values and conditional text match anything."""
    pieces: list[str | None] = []  # None: anything
    depth = 0
    for part in _TAG.split(template):
        if part.startswith("{%"):
            words = part[2:-2].split() or [""]
            depth += _BLOCKS.get(words[0], 0)
            pieces.append(None)
        elif part.startswith("{{") or depth:
            pieces.append(None)
        elif part:
            pieces.append(re.escape(part))
    regex = ""
    for piece in pieces:
        if piece is not None:
            regex += piece
        elif not regex.endswith(".*?"):
            regex += ".*?"
    return re.compile(f"^{regex}$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class SeenCard:
    rule_id: str | None  # None: a card the content does not know (never expected)
    card_key: str | None
    indicator: str
    summary: str
    detail: str
    suggestions: int
    drug_offers: int = 0  # suggestions that create a MedicationRequest (a one-click drug order)
    removals: int = 0  # suggestions that delete a draft order

    def label(self) -> str:
        return f"{self.card_key or self.rule_id or '?'} ({self.indicator})"


@dataclass(frozen=True, slots=True)
class Observed:
    status: int
    cards: tuple[SeenCard, ...] = ()
    error: str | None = None  # OperationOutcome text or the exception that stopped the call
    notes: tuple[str, ...] = field(default_factory=tuple)


def offers(suggestions: object) -> tuple[int, int]:
    """(drug orders, removals) among a card's suggestions (CDS Hooks JSON): how many create a
    MedicationRequest, how many delete an order."""
    drugs = removals = 0
    for suggestion in suggestions if isinstance(suggestions, list) else []:
        actions = suggestion.get("actions") if isinstance(suggestion, dict) else None
        kinds = [
            (a.get("type"), (a.get("resource") or {}).get("resourceType"))
            for a in (actions if isinstance(actions, list) else [])
            if isinstance(a, dict)
        ]
        drugs += any(k == ("create", "MedicationRequest") for k in kinds)
        removals += any(kind == "delete" for kind, _ in kinds)
    return drugs, removals


def from_rendered(rendered: Sequence[RenderedCard]) -> tuple[SeenCard, ...]:
    out = []
    for r in rendered:
        suggestions = [s.model_dump() for s in r.card.suggestions or []]
        drugs, removals = offers(suggestions)
        out.append(
            SeenCard(
                rule_id=r.rule_id,
                card_key=r.finding.card_key,
                indicator=r.card.indicator,
                summary=r.card.summary,
                detail=r.card.detail or "",
                suggestions=len(suggestions),
                drug_offers=drugs,
                removals=removals,
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _CardText:
    key: str
    topic: str
    indicator: str
    summary: re.Pattern[str]


def _read_content(root: Traversable | Path) -> list[_CardText]:
    out = []
    for item in sorted(root.iterdir(), key=lambda t: t.name):
        if not item.name.endswith(".yaml") or item.name.startswith("_"):
            continue
        data = yaml.safe_load(item.read_text(encoding="utf-8")) or {}
        for key, card in data.items():
            if key not in CARD_SPECS or not isinstance(card, dict):
                continue
            out.append(
                _CardText(
                    key=key,
                    topic=str((card.get("topic") or {}).get("code", "")),
                    indicator=str(card.get("indicator", "")),
                    summary=summary_pattern(str(card.get("summary", ""))),
                )
            )
    return out


@lru_cache(maxsize=1)
def _content() -> tuple[_CardText, ...]:
    return tuple(_read_content(default_location()))


def card_key_of(card: Mapping[str, Any]) -> str | None:
    """The card key of a CDS Hooks card JSON produced by this service (None if unknown)."""
    source = card.get("source") if isinstance(card.get("source"), dict) else {}
    topic = (source or {}).get("topic") or {}
    code = topic.get("code") if isinstance(topic, dict) else None
    candidates = [c for c in _content() if c.topic == code and c.indicator == card.get("indicator")]
    if len(candidates) == 1:
        return candidates[0].key
    summary = str(card.get("summary", ""))
    matching = [c for c in candidates if c.summary.match(summary)]
    return matching[0].key if matching else None


def from_http(status: int, body: Any) -> Observed:
    """An HTTP answer: 200 with cards, or an error status with its OperationOutcome."""
    if status != 200:
        text = None
        issues = body.get("issue") if isinstance(body, dict) else None
        if isinstance(issues, list) and issues and isinstance(issues[0], dict):
            details = issues[0].get("details")
            found = issues[0].get("diagnostics") or (
                details.get("text") if isinstance(details, dict) else None
            )
            text = str(found) if found else None
        return Observed(status, (), text)
    cards = []
    for card in body.get("cards", []) if isinstance(body, dict) else []:
        key = card_key_of(card)
        drugs, removals = offers(card.get("suggestions"))
        cards.append(
            SeenCard(
                rule_id=CARD_SPECS[key].rule_id if key else None,
                card_key=key,
                indicator=str(card.get("indicator")),
                summary=str(card.get("summary", "")),
                detail=str(card.get("detail", "")),
                suggestions=len(card.get("suggestions") or []),
                drug_offers=drugs,
                removals=removals,
            )
        )
    return Observed(200, tuple(cards))
