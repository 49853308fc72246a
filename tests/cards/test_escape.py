"""Patient data spliced into card text is inert: no HTML, no links, no Markdown emphasis."""

from __future__ import annotations

import pytest

from cds_service.cards.escape import escape_markdown_html, plain
from cds_service.cards.render import render_card
from cds_service.rules import evaluate
from tests.rules.conftest import cond, facts, inp, med

HOSTILE = "<script>alert(1)</script> **bold** [x](javascript:alert(1)) ![i](http://e/x.png) `c`"


@pytest.mark.parametrize(
    ("raw", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ("<img src=x onerror=alert(1)>", "<img"),
        ("**bold**", "**bold**"),
        ("[x](javascript:alert(1))", "](javascript"),
        ("![i](http://e/x.png)", "!["),
        ("line1\nline2", "\n"),
    ],
)
def test_escape_neutralises_markup(raw, forbidden):
    assert forbidden not in escape_markdown_html(raw)


def test_every_markdown_special_is_backslash_escaped():
    assert escape_markdown_html("| a | b |") == "\\| a \\| b \\|"
    assert escape_markdown_html("- item") == "\\- item"
    assert escape_markdown_html("1. item") == "1\\. item"
    assert escape_markdown_html("a & b") == "a &amp; b"


def test_escape_keeps_ordinary_text_readable():
    assert escape_markdown_html("magnesium oxide 400 MG Oral Tablet") == (
        "magnesium oxide 400 MG Oral Tablet"
    )
    assert escape_markdown_html("3.1 mmol/L") == "3.1 mmol/L"


def test_plain_is_one_line_and_capped():
    assert plain("a\nb\tc", 10) == "a b c"
    assert len(plain("x" * 500, 40)) == 40


def test_rendered_card_escapes_drug_condition_and_evidence(catalog):
    drug = med("quinine", display=HOSTILE, reasons=("muscle_cramp",))
    patient = facts(age=50, conditions=(cond("muscle_cramp", display=HOSTILE),))
    rule_input = inp("order-select", patient, drug)
    details = [render_card(f, rule_input, catalog).detail or "" for f in evaluate(rule_input)]
    assert details
    for detail in details:
        assert "<script" not in detail and "<img" not in detail
        assert "](javascript" not in detail and "**bold**" not in detail
        assert "&lt;script&gt;" in detail


def test_summary_and_action_text_stay_plain_and_short(catalog):
    drug = med("quinine", display="Q" * 400 + "\n<b>x</b>", reasons=("muscle_cramp",))
    rule_input = inp("order-select", facts(), drug)
    for finding in evaluate(rule_input):
        card = render_card(finding, rule_input, catalog)
        assert len(card.summary) < 140 and "\n" not in card.summary
        for suggestion in card.suggestions or []:
            for action in suggestion.actions or []:
                assert "\n" not in action.description and len(action.description) <= 200
