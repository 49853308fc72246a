"""What an order's own words state: "for leg cramps", "alcohol withdrawal", "pre-op sedation".

Phrases come from `data/text_terms.yaml`. A phrase counts only when it is affirmed: a negation
cue shortly before it in the same sentence ("denies leg cramps", "no seizures", "w/o cramps")
or right after it ("cramps resolved", "cramps: none") cancels it, unless the cue is a pseudo-
negation ("no change in cramps") or a clause boundary sits between ("no fever but cramps").
NegEx (Chapman 2001) in miniature: linear in the text, no backtracking. A deficiency named as
something to prevent ("to prevent low K") states a purpose, not the deficiency.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cds_service.clinical.terminology_schema import TerminologyError, mapping, need, str_list
from cds_service.clinical.text import words

_SENTENCES = re.compile(r"[.;!?\n\r]+")
Phrase = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    phrase: Phrase  # whole words; with `prefix`, the last one may run on
    prefix: bool
    group: str


def _phrase(text: str) -> tuple[Phrase, bool]:
    prefix = text.endswith("*")
    return tuple(words(text.rstrip("*"))), prefix


def _phrases(values: object, where: str) -> list[Phrase]:
    out = []
    for value in str_list(values, where):
        phrase, prefix = _phrase(value)
        need(bool(phrase) and not prefix, where, f"{value!r} is not a plain phrase")
        out.append(phrase)
    return out


class FreeTextReader:
    """Finds the groups a text affirms. Built once at start-up from text_terms.yaml."""

    def __init__(self, data: Mapping[str, Any], known_groups: Iterable[str]) -> None:
        data = mapping(data, "text_terms")
        text_only = set(str_list(data.get("text_only", []), "text_terms.text_only"))
        allowed = set(known_groups) | text_only
        by_first: dict[str, list[_Entry]] = {}
        prefixes: list[_Entry] = []
        ids: list[str] = []
        for group, values in mapping(data.get("groups"), "text_terms.groups").items():
            where = f"text_terms.groups.{group}"
            need(group in allowed, where, "is neither a condition group nor listed in text_only")
            ids.append(str(group))
            for value in str_list(values, where):
                phrase, prefix = _phrase(value)
                need(bool(phrase), where, f"{value!r} has no words")
                entry = _Entry(phrase, prefix, str(group))
                if prefix and len(phrase) == 1:
                    prefixes.append(entry)
                else:
                    by_first.setdefault(phrase[0], []).append(entry)
        for entries in by_first.values():
            entries.sort(key=lambda e: -len(e.phrase))  # the longest phrase wins
        prevention = mapping(data.get("prevention"), "text_terms.prevention")
        self._prevention_cues = _phrases(prevention.get("cues"), "text_terms.prevention.cues")
        self._prevented = frozenset(str_list(prevention.get("groups"), "text_terms.prevention"))
        self._prevention = str(prevention.get("becomes"))
        need(
            self._prevention in allowed and self._prevented <= allowed,
            "text_terms.prevention",
            "names a group that is neither a condition group nor listed in text_only",
        )
        negation = mapping(data.get("negation"), "text_terms.negation")
        self._by_first = by_first
        self._prefixes = tuple(prefixes)
        self._before = _phrases(negation.get("before"), "text_terms.negation.before")
        self._after = _phrases(negation.get("after"), "text_terms.negation.after")
        self._pseudo = _phrases(negation.get("pseudo"), "text_terms.negation.pseudo")
        self._terminators = frozenset(
            str_list(negation.get("terminators"), "text_terms.negation.terminators")
        )
        window = negation.get("window")
        if not isinstance(window, int) or not 1 <= window <= 20:
            raise TerminologyError("text_terms.negation.window: must be a whole number 1-20")
        self._window = window
        self.group_ids = tuple(ids)

    def groups(self, texts: Iterable[object]) -> frozenset[str]:
        """The groups affirmed anywhere in `texts` (non-strings are skipped)."""
        found: set[str] = set()
        for text in texts:
            if isinstance(text, str) and text:
                for sentence in _SENTENCES.split(text):
                    self._sentence(words(sentence), found)
        return frozenset(found)

    def _sentence(self, tokens: list[str], found: set[str]) -> None:
        i, n = 0, len(tokens)
        while i < n:
            entry = self._match(tokens, i)
            if entry is None:
                i += 1
                continue
            end = i + len(entry.phrase)
            if not self._negated(tokens, i, end):
                prevented = entry.group in self._prevented and self._cue_before(
                    tokens, i, self._prevention_cues
                )
                found.add(self._prevention if prevented else entry.group)
            i = end

    def _match(self, tokens: list[str], i: int) -> _Entry | None:
        token = tokens[i]
        for entry in self._by_first.get(token, ()):
            phrase = entry.phrase
            stop = i + len(phrase)
            if stop > len(tokens):
                continue
            last = tokens[stop - 1]
            if tuple(tokens[i : stop - 1]) == phrase[:-1] and (
                last == phrase[-1] or (entry.prefix and last.startswith(phrase[-1]))
            ):
                return entry
        for entry in self._prefixes:
            if token.startswith(entry.phrase[0]):
                return entry
        return None

    def _cue_before(self, tokens: list[str], start: int, cues: list[Phrase]) -> bool:
        """One of `cues` within the window before `start`, with no clause boundary between."""
        lo = max(0, start - self._window)
        for j in range(start - 1, lo - 1, -1):
            if tokens[j] in self._terminators:
                return False
            if _at(tokens, j, self._pseudo):
                continue
            if _at(tokens, j, cues):
                return True
        return False

    def _negated(self, tokens: list[str], start: int, end: int) -> bool:
        if self._cue_before(tokens, start, self._before):
            return True
        # after: a cue within three words
        for j in range(end, min(len(tokens), end + 3)):
            if tokens[j] in self._terminators:
                break
            if _at(tokens, j, self._after):
                return True
        return False


def _at(tokens: list[str], j: int, phrases: list[Phrase]) -> bool:
    """A phrase of `phrases` starts at tokens[j]."""
    for phrase in phrases:
        if tokens[j] == phrase[0] and tuple(tokens[j : j + len(phrase)]) == phrase:
            return True
    return False
