"""The rule registry and evaluate(): coverage, determinism, purity."""

from __future__ import annotations

import itertools

from cds_service.rules import CARD_SPECS, RULE_IDS, RULES, evaluate
from cds_service.rules.types import Thresholds
from tests.rules.conftest import all_labs, cond, egfr, facts, inp, lab, med

GROUPS = [
    "quinine",
    "quinidine",
    "cyclobenzaprine",
    "other_muscle_relaxant",
    "baclofen_oral",
    "magnesium_supplement",
    "potassium_supplement",
    "benzodiazepine",
    "diuretic",
    "magnesium_containing",
    "potassium_containing",
]


def _scenarios():
    """A broad grid of patients x orders x hooks."""
    conditions = [
        (),
        (cond("muscle_cramp"),),
        (cond("muscle_cramp"), cond("cirrhosis")),
        (cond("muscle_cramp"), cond("esrd_dialysis"), cond("hepatic_encephalopathy")),
    ]
    lab_sets = [
        (),
        all_labs(),
        (egfr(25), lab("magnesium", 0.5), lab("potassium", 3.0)),
        (egfr(45, derived_from="Observation/cr"),),
        (egfr(90), lab("magnesium", 0.5), lab("potassium", 3.0)),
        (egfr(20), lab("magnesium", 1.4), lab("potassium", 5.9), lab("creatine_kinase", 4000)),
    ]
    for age, conds, labs, group, hook in itertools.product(
        (None, 8, 50, 64, 65, 90),
        conditions,
        lab_sets,
        GROUPS,
        ("patient-view", "order-select", "order-sign"),
    ):
        order = med(group, doses=(20, 40), mentions_cramp=group == "baclofen_oral")
        patient = facts(age=age, labs=labs, conditions=conds, active=(order,))
        yield inp(hook, patient, order) if hook != "patient-view" else inp(hook, patient)


def test_every_finding_matches_its_card_spec():
    seen = set()
    for rule_input in _scenarios():
        for finding in evaluate(rule_input):
            spec = CARD_SPECS[finding.card_key]
            assert finding.rule_id == spec.rule_id
            assert finding.indicator == spec.indicator
            assert set(finding.values) == set(spec.values)
            assert {s.kind for s in finding.suggestions} <= spec.suggestions
            if rule_input.hook == "patient-view":
                assert not any(
                    s.kind in ("remove-order", "replace-with-baclofen") for s in finding.suggestions
                )
            seen.add(finding.card_key)
    assert seen == set(CARD_SPECS), f"never produced: {set(CARD_SPECS) - seen}"


def test_evaluate_is_deterministic():
    for rule_input in list(_scenarios())[::37]:
        assert evaluate(rule_input) == evaluate(rule_input)


def test_registry_lists_every_rule_and_card():
    assert len(RULES) == 9
    assert len(RULE_IDS) == len(set(RULE_IDS)) == 9
    assert all(key == key.lower() and " " not in key for key in (*RULE_IDS, *CARD_SPECS))


def test_default_thresholds():
    t = Thresholds()
    assert (
        t.hypomagnesemia_mmol_per_l,
        t.hypokalemia_mmol_per_l,
        t.egfr_severe,
        t.egfr_moderate,
        t.older_adult_age,
    ) == (0.70, 3.5, 30, 60, 65)


def test_no_orders_no_conditions_no_findings():
    for hook in ("patient-view", "order-select", "order-sign"):
        assert evaluate(inp(hook, facts(labs=all_labs()))) == []
