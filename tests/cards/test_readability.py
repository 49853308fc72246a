"""words_before_data: what a clinician reads before the data section."""

from __future__ import annotations

from cds_service.cards.readability import words_before_data


def test_counts_only_the_cards_own_text():
    detail = (
        "**Drug X** with eGFR **24**.\n\nStop it.\n\n**Data used for this patient**\n\n"
        "- eGFR: 24\n\n**Strength of evidence:** strong words here\n\n**Sources:** [a](b)"
    )
    assert words_before_data(detail) == 7


def test_without_a_data_section_the_whole_text_counts():
    assert words_before_data("One two three.\n\n**Strength of evidence:** x y") == 3
    assert words_before_data(None) == 0
    assert words_before_data("**Data notes**\n\n- note") == 0
