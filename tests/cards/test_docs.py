"""docs/cards.md stays in sync with the rules and the content in `cards/`."""

from __future__ import annotations

import re

import pytest

from cds_service.rules import CARD_SPECS
from tests.cards.doc_examples import DOC, SCENARIOS, refresh

PAGE = DOC.read_text(encoding="utf-8")


def _section(key: str) -> str:
    match = re.search(rf"^## `{re.escape(key)}`.*?(?=^## |\Z)", PAGE, re.S | re.M)
    assert match, f"docs/cards.md has no section for {key}"
    return match.group(0)


@pytest.mark.parametrize("key", sorted(CARD_SPECS))
def test_every_card_has_a_section_with_indicator_rule_and_source(catalog, key):
    section = _section(key)
    spec = CARD_SPECS[key]
    assert f"**Indicator:** {spec.indicator}" in section
    assert f"**Rule:** `{spec.rule_id}`" in section
    assert catalog.card(key).source.url in section
    for heading in ("**Fires when:**", "**Does not fire when:**", "**Evidence:**"):
        assert heading in section
    assert f"<!-- example:{key} -->" in section


def test_every_card_has_an_example_scenario():
    assert {key.split("--")[0] for key in SCENARIOS} == set(CARD_SPECS)


def test_every_variant_example_is_on_the_page():
    for key in SCENARIOS:
        assert f"<!-- example:{key} -->" in PAGE


def test_examples_match_the_current_content(catalog):
    assert refresh(PAGE, catalog) == PAGE, (
        "docs/cards.md examples are stale: run `.venv/bin/python -m tests.cards.doc_examples "
        "--write`"
    )
