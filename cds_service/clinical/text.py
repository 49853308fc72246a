"""Word-level text matching for drug names, and route words.

The last-resort drug match works on whole words, so that "quinidine" never matches
"quinine" and "esomeprazole magnesium" never matches "magnesium oxide". A text is split
into lower-case alphanumeric words once; names are looked up by their first word in a dict.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cds_service.clinical.fhirjson import clean

T = TypeVar("T")

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str | None) -> list[str]:
    """Lower-case alphanumeric words of a text ("Mag-Ox 400" -> ["mag", "ox", "400"])."""
    cleaned = clean(text)
    return _WORD.findall(cleaned.lower()) if cleaned else []


@dataclass(frozen=True, slots=True)
class PhraseHit(Generic[T]):
    phrase: str  # the name as written in the data
    value: T


class PhraseIndex(Generic[T]):
    """Finds known multi-word names in a text; the longest name wins at each position."""

    def __init__(self, phrases: Iterable[tuple[str, T]]) -> None:
        by_first: dict[str, list[tuple[tuple[str, ...], str, T]]] = {}
        for phrase, value in phrases:
            key = tuple(words(phrase))
            if key:
                by_first.setdefault(key[0], []).append((key, phrase, value))
        for entries in by_first.values():
            entries.sort(key=lambda e: -len(e[0]))
        self._by_first = by_first

    def find(self, tokens: list[str]) -> list[PhraseHit[T]]:
        """Every non-overlapping name in `tokens`, left to right."""
        hits: list[PhraseHit[T]] = []
        i, n = 0, len(tokens)
        while i < n:
            step = 1
            for key, phrase, value in self._by_first.get(tokens[i], ()):
                if tuple(tokens[i : i + len(key)]) == key:
                    hits.append(PhraseHit(phrase, value))
                    step = len(key)
                    break
            i += step
        return hits


# Route words, most specific first: "oral mucosa" is not "oral", "intrathecal injection" is
# not "injection".
_ROUTE_WORDS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (route, frozenset(vocabulary.split()))
    for route, vocabulary in (
        ("intrathecal", "intrathecal intrathecally"),
        ("oral-mucosal", "buccal sublingual oromucosal mucosal mucosa sl"),
        ("rectal", "rectal rectum rectally pr"),
        ("nasal", "nasal intranasal nose nostril"),
        (
            "injection",
            "intravenous intravenously iv ivpb intramuscular im subcutaneous subcut sc sq"
            " injection injectable parenteral infusion",
        ),
        ("oral", "oral orally mouth po enteral"),
        (
            "other",
            "topical cutaneous transdermal ophthalmic otic inhalation vaginal irrigation"
            " dialysis intraperitoneal",
        ),
    )
)

# Route values used in codes.json products.
_DATA_ROUTES = {"intrathecal-injection": "intrathecal"}


def route_from_text(text: str | None) -> str | None:
    """Route words to a route: "Oral route" -> oral, "Buccal route" -> oral-mucosal."""
    return _route(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=1024)  # route texts come from a small vocabulary
def _route(text: str) -> str | None:
    tokens = set(words(text))
    if not tokens:
        return None
    for route, vocabulary in _ROUTE_WORDS:
        if tokens & vocabulary:
            return route
    return None


def route_from_data(value: str | None) -> str | None:
    """A codes.json product route in the service's vocabulary."""
    if not value:
        return None
    return _DATA_ROUTES.get(value, value)
