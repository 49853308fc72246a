"""The escaping and tidy-up shortcuts give exactly what the plain regex versions give."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.cards.catalog import tidy_lines
from cds_service.cards.escape import escape_markdown_html, one_line, plain

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def reference_one_line(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def reference_escape(text: str) -> str:
    text = re.sub(r"([\\`*_\[\]()#|~!])", r"\\\1", reference_one_line(text))
    text = re.sub(r"^([-+=])(?=\s|$)", r"\\\1", text)
    text = re.sub(r"^(\d+)\.(?=\s|$)", r"\1\\.", text)
    return html.escape(text, quote=True)


def reference_tidy(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# Characters every shortcut has to get right: Markdown and HTML specials, list starts, digits
# (including non-ASCII ones), every kind of whitespace and control character.
tricky = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("\\`*_[]()#|~!&<>\"'-+=. 1209\u0663\t\n\r\x00\x1f\x7f\xa0")),
        st.sampled_from(["\u2028", "\u2029", "\u200b", "\u3000", "a", "Z", "é", "µ", "²"]),
        st.sampled_from(["\x0b", "\x0c", "\x1c", "\x85", "\u1680", "\u2000", "\u200a", "\u202f"]),
        st.sampled_from(["\u205f", "\u00ad", "\ufeff", "\u0661", "\u0662"]),
        st.characters(),
    ),
    max_size=30,
)
SETTINGS = settings(max_examples=1500, deadline=None, database=None)


@SETTINGS
@given(tricky)
def test_escape_matches_the_regex_version(text: str) -> None:
    assert escape_markdown_html(text) == reference_escape(text)


@SETTINGS
@given(tricky)
def test_one_line_and_plain_match_the_regex_version(text: str) -> None:
    assert one_line(text) == reference_one_line(text)
    assert plain(text, 10) == (
        line if len(line := reference_one_line(text)) <= 10 else line[:9].rstrip() + "…"
    )


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list(" \t\nab\r")), max_size=40))
def test_tidy_lines_matches_the_regex_version(text: str) -> None:
    assert tidy_lines(text) == reference_tidy(text)
