"""Make patient-supplied text safe to splice into card text.

`detail` is GitHub-Flavored Markdown and some clients (the CDS Hooks sandbox) render raw HTML
in it, so a value from patient data must not be able to add markup, links, images or HTML:
Markdown punctuation is backslash-escaped, then HTML special characters become entities.
`summary`, labels and action descriptions are plain text: control characters are removed and
the length is capped so a long drug name cannot break the 140-character summary rule.
"""

from __future__ import annotations

import html
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that start
# emphasis, code, links/images, tables, strikethrough, headings or HTML.
_MARKDOWN = re.compile(r"([\\`*_\[\]()#|~!])")
_BULLET_START = re.compile(r"^([-+=])(?=\s|$)")  # "- x" would start a list item
_NUMBER_START = re.compile(r"^(\d+)\.(?=\s|$)")  # "1. x" would start a numbered list
# Anything escape_markdown_html could change: Markdown or HTML specials, or a list-item start.
# Most values (drug names, "3.1 mmol/L") have none and are returned as they are.
_MAY_NEED_ESCAPING = re.compile(r"[\\`*_\[\]()#|~!&<>\"']|^[-+=](?:\s|$)|^\d+\.(?:\s|$)")


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
    text = one_line(text)
    if _MAY_NEED_ESCAPING.search(text) is None:
        return text
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _BULLET_START.sub(r"\\\1", text)
    text = _NUMBER_START.sub(r"\1\\.", text)
    return html.escape(text, quote=True)


def plain(text: str, limit: int) -> str:
    """One line, at most `limit` characters (an ellipsis marks a cut)."""
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
