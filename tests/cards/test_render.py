"""render_cards(): valid CDS Hooks cards, one per rule per order, most urgent first, capped."""

from __future__ import annotations

import dataclasses
import random
from typing import get_args

import pytest

from cds_service.cards.render import render_card, render_cards
from cds_service.cards.templates import LONG_TEXT, sample_values
from cds_service.cdshooks.response import CdsResponse
from cds_service.rules import CARD_SPECS, evaluate
from cds_service.rules.types import Evidence, OrderableLab, SuggestionSpec
from tests.invariants import assert_conformant_cds_response
from tests.rules.conftest import all_labs, cond, egfr, facts, inp, lab, med

LABS = get_args(OrderableLab)


def _random_values(spec, rng):
    worst = sample_values(spec.values, LABS, worst=True)
    least = sample_values(spec.values, LABS, worst=False)
    return {name: rng.choice((worst[name], least[name])) for name in spec.values}


@pytest.mark.parametrize("key", sorted(CARD_SPECS))
def test_every_card_renders_valid_cards_for_many_value_combinations(catalog, key):
    spec = CARD_SPECS[key]
    rng = random.Random(key)
    order = med("quinine", display=LONG_TEXT + " <b>x</b>")
    suggestions = []
    for kind in sorted(spec.suggestions):
        suggestions.append(
            SuggestionSpec(
                kind,
                order_reference="MedicationRequest/d1",
                schedule="easl-cirrhosis" if "baclofen" in kind else None,
                labs=LABS if kind == "order-labs" else (),
            )
        )
    for _ in range(40):
        finding = spec.finding(
            order=order,
            evidence=(Evidence("eGFR", "25 mL/min/1.73m2", None, "Observation/e"),),
            values=_random_values(spec, rng),
            suggestions=suggestions,
        )
        rule_input = inp("order-sign", facts(notes=("2 Observations without a date were ignored",)))
        card = render_card(finding, rule_input, catalog)
        assert card.indicator == spec.indicator
        assert 0 < len(card.summary) < 140
        assert card.detail and "Strength of evidence" in card.detail
        assert_conformant_cds_response(CdsResponse(cards=[card]).to_json())


def test_detail_shows_this_patients_values_and_dates(catalog):
    patient = facts(
        age=50, labs=(egfr(24, derived_from="Observation/cr-7"), lab("magnesium", 0.55))
    )
    rule_input = inp("order-sign", patient, med("magnesium_supplement", display="Mag-Ox 400"))
    [rendered] = render_cards(evaluate(rule_input), rule_input, catalog, max_cards=10)
    detail = rendered.card.detail or ""
    assert rendered.finding.card_key == "magnesium-renal-caution"
    assert "eGFR **24** (computed from creatinine)" in detail
    assert "magnesium **0.55 mmol/L** (2026-10-01), low" in detail
    assert "computed with CKD-EPI 2021 from creatinine" in detail and "Observation/cr-7" in detail


def _findings(*keys):
    out = []
    for i, key in enumerate(keys):
        spec = CARD_SPECS[key]
        values = sample_values(spec.values, LABS, worst=False)
        out.append(
            spec.finding(
                order=med("quinine", ref=f"MedicationRequest/{i}"), evidence=(), values=values
            )
        )
    return out


def test_sorted_critical_warning_info_and_stable(catalog):
    findings = _findings(
        "cramp-workup", "quinine-for-cramps", "magnesium-renal-critical", "benzodiazepine-older-adult"
    )
    rendered = render_cards(findings, inp("order-sign", facts()), catalog, max_cards=10)
    assert [r.finding.card_key for r in rendered] == [
        "magnesium-renal-critical",
        "quinine-for-cramps",
        "benzodiazepine-older-adult",
        "cramp-workup",
    ]
    assert_conformant_cds_response(CdsResponse(cards=[r.card for r in rendered]).to_json())


def test_cap_keeps_the_most_urgent(catalog):
    findings = _findings("cramp-workup", "quinine-for-cramps", "magnesium-renal-critical")
    rendered = render_cards(findings, inp("order-sign", facts()), catalog, max_cards=2)
    assert [r.finding.indicator for r in rendered] == ["critical", "warning"]


def test_cap_never_drops_a_critical_card(catalog):
    findings = _findings("magnesium-renal-critical", "potassium-renal-critical", "quinine-for-cramps")
    rendered = render_cards(findings, inp("order-sign", facts()), catalog, max_cards=1)
    assert [r.finding.indicator for r in rendered] == ["critical", "critical"]


def test_one_card_per_rule_per_order(catalog):
    [finding] = _findings("quinine-for-cramps")
    other_order = dataclasses.replace(finding, order=med("quinine", ref="MedicationRequest/zz"))
    rendered = render_cards(
        [finding, finding, other_order], inp("order-sign", facts()), catalog, max_cards=10
    )
    assert len(rendered) == 2
    assert len({r.card.uuid for r in rendered}) == 2


def test_patient_view_cards_never_carry_delete_actions(catalog):
    [finding] = _findings("quinine-for-cramps")
    finding = dataclasses.replace(
        finding,
        suggestions=(
            SuggestionSpec("remove-order", order_reference="MedicationRequest/0"),
            SuggestionSpec(
                "replace-with-baclofen",
                order_reference="MedicationRequest/0",
                schedule="easl-cirrhosis",
            ),
        ),
    )
    card = render_card(finding, inp("patient-view", facts()), catalog)
    assert card.suggestions is None and card.selectionBehavior is None


def test_end_to_end_scenario_produces_a_conformant_response(catalog):
    conditions = (cond("muscle_cramp"), cond("cirrhosis"))
    patient = facts(
        age=72,
        labs=(egfr(48),),
        conditions=conditions,
        active=(med("diuretic", ref="MedicationRequest/f"),),
    )
    for hook, orders in (
        ("patient-view", ()),
        ("order-select", (med("quinine"), med("magnesium_supplement", ref="MedicationRequest/m"))),
        ("order-sign", (med("benzodiazepine"),)),
    ):
        rule_input = inp(hook, patient, *orders)
        rendered = render_cards(evaluate(rule_input), rule_input, catalog, max_cards=10)
        assert rendered
        assert_conformant_cds_response(CdsResponse(cards=[r.card for r in rendered]).to_json())


def test_no_findings_no_cards(catalog):
    rule_input = inp("patient-view", facts(labs=all_labs()))
    assert render_cards([], rule_input, catalog, max_cards=10) == []


def test_no_template_is_parsed_or_compiled_when_a_card_is_rendered(catalog, monkeypatch):
    """Card text is compiled once, at start-up (CardCatalog.load); a call only renders."""
    from jinja2 import Environment

    def refuse(*_args, **_kwargs):
        raise AssertionError("a template was parsed or compiled during a call")

    for name in ("parse", "_parse", "compile", "from_string", "get_template"):
        monkeypatch.setattr(Environment, name, refuse)
    spec = CARD_SPECS["muscle-relaxant-older-adult"]
    finding = spec.finding(
        order=med("cyclobenzaprine"),
        evidence=(Evidence("age", "75", None, "Patient/p"),),
        values=sample_values(spec.values, LABS, worst=True),
        suggestions=[SuggestionSpec(kind) for kind in sorted(spec.suggestions)],
    )
    card = render_card(finding, inp("order-select", facts(age=75)), catalog)
    assert card.summary and card.detail
