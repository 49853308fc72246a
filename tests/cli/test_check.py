"""`cds-service check`: the table as readable output and JSON; exit 1 on any failure."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cds_service.cli import cli

GOOD = """
- name: quinine-for-cramps
  description: quinine drafted for cramps
  source: synthetic
  hook: order-select
  as_of: 2026-11-15
  patient: {age: 70, gender: female}
  conditions: [R25.2]
  orders:
    - {rxnorm: "997010", display: quinine sulfate 324 MG Oral Capsule, reason: R25.2}
  expect:
    cards: [{rule: quinine-for-cramps, indicator: warning}]
"""


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)


def scenario_file(tmp_path: Path, text: str, name: str = "table.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["check", *args])


def test_passing_table_exits_0(tmp_path: Path) -> None:
    result = run(str(scenario_file(tmp_path, GOOD)))
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "quinine-for-cramps (warning)" in result.output


def test_wrong_expectation_fails_with_the_reason(tmp_path: Path) -> None:
    wrong = GOOD.replace("indicator: warning", "indicator: info").replace(
        "cards: [", "absent: [cramp-workup]\n    cards: ["
    )
    result = run(str(scenario_file(tmp_path, wrong)))
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "missing quinine-for-cramps (info)" in result.output
    assert "must not fire: cramp-workup" in result.output


def test_json_output(tmp_path: Path) -> None:
    result = run("--json", str(scenario_file(tmp_path, GOOD)))
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert body["ok"] is True and body["counts"]["pass"] == 1
    (entry,) = body["scenarios"]
    assert entry["verdict"] == "pass" and entry["status"] == 200
    assert {"rule": "quinine-for-cramps", "card": "quinine-for-cramps", "indicator": "warning"} in (
        entry["cards"]
    )


def test_xfail_is_not_a_failure_but_xpass_is(tmp_path: Path) -> None:
    known = GOOD.replace("indicator: warning}]", "indicator: critical}]\n  xfail: known")
    result = run("--json", str(scenario_file(tmp_path, known)))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["scenarios"][0]["verdict"] == "xfail"
    stale = GOOD + "  xfail: no longer true\n"
    result = run("--json", str(scenario_file(tmp_path, stale)))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["scenarios"][0]["verdict"] == "xpass"


def test_status_expectation_for_protocol_scenarios(tmp_path: Path) -> None:
    text = GOOD.replace("  patient:", "  prefetch: none\n  fhir_server: false\n  patient:")
    text = text.replace("cards: [{rule: quinine-for-cramps, indicator: warning}]", "status: 412")
    assert run(str(scenario_file(tmp_path, text))).exit_code == 0


def test_invalid_file_is_reported_and_fails(tmp_path: Path) -> None:
    scenario_file(tmp_path, GOOD, "a.yaml")
    broken = GOOD.replace("quinine-for-cramps, indicator", "no-such-rule, indicator")
    scenario_file(tmp_path, broken, "b.yaml")
    result = run(str(tmp_path))
    assert result.exit_code == 1
    assert "LOAD ERROR" in result.output and "unknown rule id 'no-such-rule'" in result.output
    assert "1 scenarios: 1 pass" in result.output


def test_duplicate_names_and_unknown_keys_are_errors(tmp_path: Path) -> None:
    scenario_file(tmp_path, GOOD, "a.yaml")
    scenario_file(tmp_path, GOOD, "b.yaml")
    result = run("--json", str(tmp_path))
    assert result.exit_code == 1
    assert "name also used" in json.loads(result.stdout)["loadErrors"][0]["message"]
    typo = GOOD.replace("  expect:", "  expcet: {}\n  expect:")
    result = run("--json", str(scenario_file(tmp_path, typo, "c.yml")))
    assert result.exit_code == 1
    assert "expcet" in json.loads(result.stdout)["loadErrors"][0]["message"]


def test_name_filter(tmp_path: Path) -> None:
    result = run("--json", "-k", "nothing-matches", str(scenario_file(tmp_path, GOOD)))
    assert result.exit_code == 0 and json.loads(result.stdout)["scenarios"] == []
