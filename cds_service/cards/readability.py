"""How long a card takes to read: the words a clinician meets before the data section.

Issue 10 / clinical-knowledge §11.6: a card is read in seconds, so its own text (the detail
before "Data used for this patient", "Strength of evidence" and "Sources", which every card
appends) should be about 60 words; 80 is the hard limit the tests and bench/ hold it to.
"""

from __future__ import annotations

import re

WORD_LIMIT = 80
DATA_HEADINGS = ("**Data used for this patient**", "**Data notes**", "**Strength of evidence:**")
_MARKUP = re.compile(r"[*_>`#\\|]")
_WORD = re.compile(r"\w")


def words_before_data(detail: str | None) -> int:
    """Words of the card's own text (Markdown marks and escapes are not words)."""
    body = detail or ""
    for heading in DATA_HEADINGS:
        body = body.split(heading, 1)[0]
    return sum(1 for token in _MARKUP.sub(" ", body).split() if _WORD.search(token))
