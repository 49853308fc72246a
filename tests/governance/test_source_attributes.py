"""ONC HTI-1 source attributes: every rule has them, in discovery, in `report --attributes`
and in docs/cards.md; and each rule's yes/no answers are what the rule actually reads."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cds_service.app import default_catalog
from cds_service.cli import cli
from cds_service.clinical.terminology import get_terminology
from cds_service.clinical.types import PatientFacts
from cds_service.commands.validate import Discovery
from cds_service.governance.attributes import (
    CONDITION_USES,
    ELEMENTS,
    EXTENSION_KEY,
    FACT_USES,
    LAB_USES,
    source_attributes,
)
from cds_service.hooks import pipeline
from cds_service.rules import RULE_IDS, RULES
from cds_service.rules.types import Finding, RuleInput
from cds_service.settings import Settings
from cds_service.tools.runner import run_in_process
from cds_service.tools.scenarios import load_scenarios
from tests.conftest import FIXTURES
from tests.governance.docs_sync import BLOCKS, refresh
from tests.governance.recording import FIELDS, Read, recording

ATTRIBUTES = source_attributes(default_catalog(), strict=True)


def test_every_rule_has_its_attributes() -> None:
    assert list(ATTRIBUTES) == list(RULE_IDS)
    for attributes in ATTRIBUTES.values():
        assert attributes.citations, f"{attributes.rule_id}: no citation"
        assert all(c.url.startswith("https://") for c in attributes.citations)
        assert attributes.developer and attributes.funding
        assert attributes.released and attributes.revised and attributes.uses is not None
        assert attributes.released <= attributes.revised


def test_every_fact_and_condition_group_is_classified() -> None:
    """A new patient fact or condition group must say which HTI-1 element it is (or none)."""
    assert set(FACT_USES) == FIELDS
    assert set(CONDITION_USES) == set(get_terminology().condition_group_ids)
    for uses in [*FACT_USES.values(), *LAB_USES.values(), *CONDITION_USES.values()]:
        assert set(uses) <= set(ELEMENTS)


def _elements(read: Read) -> set[str]:
    kind, name = read
    if kind == "fact":
        if name == "labs":  # the whole dict: any analyte
            return {e for uses in LAB_USES.values() for e in uses}
        if name == "conditions":  # every entry: any group
            return {e for uses in CONDITION_USES.values() for e in uses}
        return set(FACT_USES[name])
    if kind == "lab":
        return set(LAB_USES.get(name, ()))
    return set(CONDITION_USES[name])


@pytest.fixture(scope="module")
def rule_inputs() -> list[RuleInput]:
    """The RuleInput of every scenario in the table, as the pipeline builds it."""
    seen: list[RuleInput] = []
    real_fire = pipeline.fire

    def capture(inp: RuleInput) -> list[Finding]:
        seen.append(inp)
        return real_fire(inp)

    scenarios, errors = load_scenarios([FIXTURES / "scenarios"])
    assert not errors
    patch = pytest.MonkeyPatch()
    patch.setattr(pipeline, "fire", capture)
    try:
        run_in_process(scenarios, Settings(profile="development", auth_required=False))
    finally:
        patch.undo()
    assert len(seen) > 50
    return seen


def _rule_ids_of(rule: Callable[[RuleInput], list[Finding]], inputs: list[RuleInput]) -> set[str]:
    """The rule ids a rule function emits (over the scenarios; else its module's cards)."""
    emitted = {f.rule_id for inp in inputs for f in rule(inp)}
    if emitted:
        return emitted
    module = __import__(rule.__module__, fromlist=["CARDS"])
    return {spec.rule_id for spec in module.CARDS}


def test_each_rules_answers_are_what_it_reads(rule_inputs: list[RuleInput]) -> None:
    derived: dict[str, set[str]] = defaultdict(set)
    for rule in RULES:
        reads: set[Read] = set()
        for inp in rule_inputs:
            rule(dataclasses.replace(inp, facts=recording(inp.facts, reads)))
        used = {element for read in reads for element in _elements(read)}
        for rule_id in _rule_ids_of(rule, rule_inputs):
            derived[rule_id] |= used
    assert set(derived) == set(RULE_IDS)
    declared = {rule: set(a.uses or ()) for rule, a in ATTRIBUTES.items()}
    assert declared == dict(derived), (
        "governance/data/source_attributes.yaml `uses` differs from what the rules read"
    )


def test_recording_sees_what_a_rule_reads() -> None:
    """The derivation can fail: a read of age or sex is seen."""
    facts = PatientFacts(patient_id="p", as_of=date(2026, 1, 1), age_years=70, sex="female")
    reads: set[Read] = set()
    spy = recording(facts, reads)
    assert spy.age_years == 70 and spy.sex == "female" and spy.egfr is None
    assert not spy.has_condition("cirrhosis")
    assert {("fact", "age_years"), ("fact", "sex"), ("lab", "egfr"),
            ("condition", "cirrhosis")} <= reads


def test_discovery_carries_every_rules_attributes(client: TestClient) -> None:
    body = client.get("/cds-services").json()
    Discovery.model_validate(body)
    for service in body["services"]:
        published = service["extension"][EXTENSION_KEY]["rules"]
        assert [r["rule"] for r in published] == list(RULE_IDS)
        for entry in published:
            assert entry["mode"] == "on"
            assert set(entry["uses"]) == set(ELEMENTS)
            assert all(isinstance(v, bool) for v in entry["uses"].values())
            expected = ATTRIBUTES[entry["rule"]].to_json()
            assert {k: v for k, v in entry.items() if k != "mode"} == expected


def test_report_attributes(tmp_path: Any) -> None:
    result = CliRunner().invoke(cli, ["report", "--attributes", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert [r["rule"] for r in body["rules"]] == list(RULE_IDS)
    table = CliRunner().invoke(cli, ["report", "--attributes"])
    assert table.exit_code == 0 and "Date of birth" in table.output
    assert "quinine-for-cramps" in table.output


@pytest.mark.parametrize("doc", sorted(BLOCKS), ids=lambda p: p.name)
def test_generated_docs_are_current(doc: Path) -> None:
    page = doc.read_text(encoding="utf-8")
    assert refresh(doc, page) == page, (
        f"{doc.name} is stale: run `.venv/bin/python -m tests.governance.docs_sync --write`"
    )
