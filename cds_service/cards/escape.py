"""Make patient-supplied text safe to splice into card text.

`detail` is GitHub-Flavored Markdown and some clients (the CDS Hooks sandbox) render raw HTML
in it, so a value from patient data must not be able to add markup, links, images or HTML:
Markdown punctuation is backslash-escaped, then HTML special characters become entities.
`summary`, labels and action descriptions are plain text: control characters are removed and
the length is capped so a long drug name cannot break the 140-character summary rule. They are
plain text by the spec, but an EHR may still render them as HTML (and the sandbox's own
rendering may change), so a value from patient data never brings `<` or `>` into them either:
they become the look-alike `‹` and `›`, which read the same in any renderer and open no tag
(HTML entities would show as `&lt;` where the text is rightly shown as text).
"""

from __future__ import annotations

import html
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that start
# emphasis, code, links/images, tables, strikethrough, headings or HTML.
_MARKDOWN = str.maketrans({char: "\\" + char for char in "\\`*_[]()#|~!"})
_BULLET_START = re.compile(r"([-+=])(?=\s|$)")  # "- x" would start a list item
_NUMBER_START = re.compile(r"(\d+)\.(?=\s|$)")  # "1. x" would start a numbered list
# Markdown or HTML specials. Most values (drug names, "3.1 mmol/L") have none, nor a list-item
# start, and are returned as they are. A plain character class: sre scans it in a tight loop.
_SPECIALS = re.compile(r"[\\`*_\[\]()#|~!&<>\"']")
# The same, plus control characters and every whitespace character but the space: when none of
# these is in a text, only runs of spaces or a space at either end can still change it.
_SPECIAL_OR_ODD_SPACE = re.compile(
    r"[\\`*_\[\]()#|~!&<>\"'\x00-\x1f\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


def one_line(text: str) -> str:
    """Newlines, tabs and other control characters become single spaces."""
    if text.isprintable():  # no control characters: nothing for _CONTROL to replace
        return " ".join(text.split())
    return " ".join(_CONTROL.sub(" ", text).split())


def escape_markdown_html(text: str) -> str:
    """Escape `text` for use inside a Markdown paragraph that may be rendered as HTML.

    `[x](javascript:alert(1)) <b>` becomes `\\[x\\]\\(javascript:alert\\(1\\)\\) &lt;b&gt;`:
    shown as typed, never a link or a tag. A leading `- `, `+ ` or `1. ` is escaped too, in
    case a template puts the value at the start of a line.
    """
    first = text[:1]
    if (
        _SPECIAL_OR_ODD_SPACE.search(text) is None
        and "  " not in text
        and first not in "-+= "
        and not first.isdigit()
        and text[-1:] != " "
    ):
        return text  # the usual value: nothing to normalise, nothing to escape
    text = one_line(text)
    bullet = _BULLET_START.match(text)
    number = None if bullet else _NUMBER_START.match(text)
    if not bullet and not number and _SPECIALS.search(text) is None:
        return text
    text = text.translate(_MARKDOWN)  # a backslash before each Markdown special
    if bullet:
        text = "\\" + text
    elif number:
        text = number.group(1) + "\\." + text[number.end() :]
    return html.escape(text, quote=True)


_ANGLES = str.maketrans({"<": "‹", ">": "›"})


def plain_value(text: str, limit: int) -> str:
    """A patient-data value for a plain-text field: `plain`, and no angle brackets."""
    if "<" in text or ">" in text:
        text = text.translate(_ANGLES)
    return plain(text, limit)


def plain(text: str, limit: int) -> str:
    """One line, at most `limit` characters (an ellipsis marks a cut)."""
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
