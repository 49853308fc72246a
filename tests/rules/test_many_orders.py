"""Many target orders cost one baclofen assessment per rule, not one per order: it depends on
the patient alone, and recomputing it per order scanned every medication again (found by
fuzzing: 4,000 quinine orders took 5.5 s)."""

from __future__ import annotations

import pytest

import cds_service.rules.baclofen_fit as baclofen_fit
from cds_service.rules import benzodiazepine, muscle_relaxant, quinidine, quinine
from tests.rules.conftest import cond, facts, inp, med, run


@pytest.mark.parametrize(
    ("module", "group", "age"),
    [
        (quinine, "quinine", 50),
        (quinidine, "quinidine", 50),
        (muscle_relaxant, "cyclobenzaprine", 50),
        (benzodiazepine, "benzodiazepine", 70),
    ],
)
def test_the_baclofen_fit_is_assessed_once_per_rule(
    monkeypatch: pytest.MonkeyPatch, module: object, group: str, age: int
) -> None:
    calls: list[object] = []
    original = baclofen_fit.assess_baclofen

    def counting(rule_input: object) -> object:
        calls.append(rule_input)
        return original(rule_input)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "assess_baclofen", counting)
    patient = facts(age=age, conditions=(cond("muscle_cramp"),))
    orders = [
        med(group, ref=f"MedicationRequest/m{i}", reasons=("muscle_cramp",), mentions_cramp=True)
        for i in range(50)
    ]
    findings = run(inp("order-select", patient, *orders), module.RULE_ID)  # type: ignore[attr-defined]
    assert len(findings) == 50
    assert len(calls) == 1
