"""docs/clinical-validation.md is generated from the scenario table (cds_service/tools/
validation_doc.py) and must match what the generator produces for this commit."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from cds_service.tools.validation_doc import COMMAND, generate, main, pristine_settings
from tests.conftest import ROOT

DOC = ROOT / "docs" / "clinical-validation.md"


def test_committed_validation_doc_is_current() -> None:
    expected = generate(ROOT / "fixtures" / "scenarios")
    assert DOC.is_file(), f"docs/clinical-validation.md is missing: run `{COMMAND}`"
    assert DOC.read_text(encoding="utf-8") == expected, (
        f"docs/clinical-validation.md is out of date: run `{COMMAND}`"
    )
    found = re.search(r"\*\*(\d+) clinical situations", expected)
    assert found and int(found.group(1)) >= 80  # issue 10: at least 80 clinician cases
    assert "Not loaded" not in expected


TABLE = """\
# Quinine (a test table).
# Second line of the introduction.

- name: t-quinine-for-cramps
  description: "70-year-old | quinine drafted for cramps."
  clinician: Expect the quinine warning.
  source: synthetic
  hook: order-select
  as_of: 2026-11-15
  patient: {age: 70, gender: female}
  conditions: [R25.2]
  orders:
    - {rxnorm: "997010", display: quinine sulfate 324 MG Oral Capsule, reason: R25.2}
  expect:
    cards: [{card: quinine-for-cramps, indicator: warning}]

- name: t-nothing-to-say
  description: 40-year-old, no medications, chart opened.
  clinician: No card.
  source: synthetic
  hook: patient-view
  as_of: 2026-11-15
  patient: {age: 40, gender: male}
  expect: {exact: true}

- name: t-wrong-expectation
  description: The quinine patient again.
  clinician: Silence (a wrong expectation, to see a failure).
  source: synthetic
  hook: order-select
  as_of: 2026-11-15
  patient: {age: 70, gender: female}
  orders:
    - {rxnorm: "997010", display: quinine sulfate 324 MG Oral Capsule, reason: R25.2}
  expect: {absent: [quinine-for-cramps]}

- name: t-known-disagreement
  description: The quinine patient, a third time.
  clinician: Silence, as a disagreeing reviewer would have it.
  source: synthetic
  hook: order-select
  as_of: 2026-11-15
  patient: {age: 70, gender: female}
  orders:
    - {rxnorm: "997010", display: quinine sulfate 324 MG Oral Capsule, reason: R25.2}
  expect: {absent: [quinine-for-cramps]}
  xfail: The reviewer disagrees with the service here.

- name: t-no-clinician
  description: Not a clinical-review scenario.
  source: synthetic
  hook: patient-view
  as_of: 2026-11-15
  patient: {age: 40}
  expect: {exact: true}
"""


@pytest.fixture
def table(tmp_path: Path) -> Path:
    root = tmp_path / "scenarios"
    (root / "theme").mkdir(parents=True)
    (root / "theme" / "quinine.yaml").write_text(textwrap.dedent(TABLE), encoding="utf-8")
    return root


def _rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        for line in text.splitlines()
        if re.match(r"\| \d+ \|", line)
    ]


def test_one_row_per_clinician_scenario_with_the_services_answer(table: Path) -> None:
    text = generate(table)
    assert "**4 clinical situations: 2 pass, 1 fail, 1 known disagreement.**" in text
    assert "## `theme/quinine.yaml`" in text
    assert "Quinine (a test table). Second line of the introduction." in text
    rows = _rows(text)
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    first, silent, failed, disagreed = rows
    assert first[1].startswith("70-year-old \\| quinine drafted")  # a pipe can't break the row
    assert "`t-quinine-for-cramps`" in first[1] and "order-select" in first[1]
    assert first[2] == "Expect the quinine warning."
    assert first[3].startswith("**warning**: Quinine") and first[4] == "pass"
    assert silent[3] == "no card" and silent[4] == "pass"
    assert failed[4].startswith("**FAIL**: must not fire: quinine-for-cramps")
    assert disagreed[4] == "known disagreement: The reviewer disagrees with the service here."
    assert "t-no-clinician" not in text


def test_write_then_check(table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "validation.md"
    assert main(["--root", str(table), "--doc", str(doc), "--check"]) == 1
    assert COMMAND in capsys.readouterr().out
    assert main(["--root", str(table), "--doc", str(doc), "--write"]) == 0
    assert main(["--root", str(table), "--doc", str(doc), "--check"]) == 0
    doc.write_text(doc.read_text() + "edited by hand\n")
    assert main(["--root", str(table), "--doc", str(doc), "--check"]) == 1


def test_a_file_that_does_not_load_is_named(table: Path) -> None:
    (table / "broken.yaml").write_text("- name: x\n  description: [unclosed\n")
    assert "- Not loaded: `broken.yaml`" in generate(table)


def test_settings_are_the_shipped_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_LAB_MAX_AGE_DAYS", "10")
    monkeypatch.setenv("CDS_MAX_CARDS", "1")
    settings = pristine_settings()
    assert settings.lab_max_age_days == 365 and settings.max_cards == 10
