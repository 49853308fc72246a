"""CardCatalog.load(): all content present, consistent with the rules, and safe to render."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cds_service.cards.catalog import CardCatalog, CardContentError, default_location
from cds_service.rules import CARD_SPECS


def test_loads_and_covers_every_card_the_rules_emit(catalog):
    assert catalog.keys == set(CARD_SPECS)


def test_default_location_finds_the_repository_cards_dir():
    location = default_location()
    assert location.joinpath("_common.yaml").is_file()


def test_every_card_has_an_absolute_source_url_and_topic(catalog):
    for key in CARD_SPECS:
        source = catalog.card(key).source
        assert source.url and source.url.startswith("https://"), key
        assert source.topic and source.topic.system == "https://cds.example.org/cramps/topic"


def test_every_url_in_the_card_content_is_https():
    """SECURITY.md: links on cards are only the catalogue's fixed https URLs."""

    def urls(node: object):
        if isinstance(node, dict):
            for name, value in node.items():
                if name == "url":
                    yield value
                yield from urls(value)
        elif isinstance(node, list):
            for value in node:
                yield from urls(value)

    found = [
        (path.name, url)
        for path in sorted(default_location().iterdir())
        if path.name.endswith(".yaml")
        for url in urls(yaml.safe_load(path.read_text()))
    ]
    assert found and all(url.startswith("https://") for _name, url in found), found


def test_every_card_has_override_reasons_with_display(catalog):
    for key in CARD_SPECS:
        reasons = catalog.card(key).override_reasons
        assert reasons and all(r.display for r in reasons), key


def _edit(cards: Path, name: str, edit) -> None:
    path = cards / name
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _load_fails(cards: Path, match: str) -> None:
    with pytest.raises(CardContentError, match=match):
        CardCatalog.load(cards)


def test_missing_card_is_an_error(cards_copy):
    _edit(cards_copy, "quinine.yaml", lambda d: d.pop("quinine-for-cramps"))
    _load_fails(cards_copy, r"no content for \['quinine-for-cramps'\]")


def test_card_no_rule_emits_is_an_error(cards_copy):
    _edit(cards_copy, "quinine.yaml", lambda d: d.update({"stale-card": d["quinine-for-cramps"]}))
    _load_fails(cards_copy, "stale-card")


def test_indicator_must_match_the_rule(cards_copy):
    _edit(
        cards_copy,
        "magnesium.yaml",
        lambda d: d["magnesium-renal-critical"].update(indicator="warning"),
    )
    _load_fails(cards_copy, "indicator is 'warning' but rule magnesium-supplement emits")


def test_placeholder_the_rule_does_not_provide_is_an_error(cards_copy):
    _edit(
        cards_copy,
        "quinine.yaml",
        lambda d: d["quinine-for-cramps"].update(detail="Dose {{ dose_mg }}"),
    )
    _load_fails(cards_copy, r"detail uses \['dose_mg'\]")


def test_summary_too_long_with_worst_case_values_is_an_error(cards_copy):
    _edit(
        cards_copy,
        "quinine.yaml",
        lambda d: d["quinine-for-cramps"].update(summary="{{ drug }} " + "x" * 100),
    )
    _load_fails(cards_copy, "summary is .* characters with worst-case values")


def test_template_syntax_error_is_reported_with_the_card(cards_copy):
    _edit(
        cards_copy,
        "benzodiazepine.yaml",
        lambda d: d["benzodiazepine-older-adult"].update(detail="{% if age %}oops"),
    )
    _load_fails(cards_copy, "benzodiazepine-older-adult: detail: template error")


def test_missing_suggestion_label_is_an_error(cards_copy):
    _edit(
        cards_copy,
        "quinine.yaml",
        lambda d: d["quinine-for-cramps"]["suggestions"].pop("replace-with-baclofen"),
    )
    _load_fails(cards_copy, "suggestion labels must be given")


def test_relative_source_url_is_an_error(cards_copy):
    _edit(
        cards_copy, "quinine.yaml", lambda d: d["quinine-for-cramps"]["source"].update(url="/fda")
    )
    _load_fails(cards_copy, "absolute")


def test_unknown_field_is_an_error(cards_copy):
    _edit(cards_copy, "quinine.yaml", lambda d: d["quinine-for-cramps"].update(sumary="typo"))
    _load_fails(cards_copy, "sumary")


def test_unknown_override_reason_set_is_an_error(cards_copy):
    _edit(
        cards_copy,
        "quinine.yaml",
        lambda d: d["quinine-for-cramps"].update(override_reasons="nope"),
    )
    _load_fails(cards_copy, "unknown override_reasons set")


def test_invalid_yaml_is_an_error(cards_copy):
    (cards_copy / "quinine.yaml").write_text("quinine-for-cramps: [unclosed")
    _load_fails(cards_copy, "not valid YAML")


def test_missing_orderable_lab_is_an_error(cards_copy):
    _edit(cards_copy, "_orderables.yaml", lambda d: d["labs"].pop("tsh"))
    _load_fails(cards_copy, "labs must be exactly")


def test_sandbox_blocks_unsafe_template_code(cards_copy):
    _edit(
        cards_copy,
        "quinine.yaml",
        lambda d: d["quinine-for-cramps"].update(detail="{{ drug.__class__.__mro__ }}"),
    )
    _load_fails(cards_copy, "does not render")


def test_duplicate_card_key_across_files_is_an_error(cards_copy):
    (cards_copy / "copy.yaml").write_text((cards_copy / "quinine.yaml").read_text())
    _load_fails(cards_copy, "also defined in")


def test_installed_package_data_is_preferred(tmp_path, monkeypatch, cards_copy):
    from cds_service.cards import catalog as module

    packaged = tmp_path / "pkg"
    (packaged / "_content").mkdir(parents=True)
    cards_copy.rename(packaged / "_content" / "cards")
    monkeypatch.setattr(module.resources, "files", lambda _: packaged)
    assert default_location() == packaged / "_content" / "cards"
    assert CardCatalog.load().keys == set(CARD_SPECS)
