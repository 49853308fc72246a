"""The scenario table (fixtures/scenarios/) through the HTTP API, and through `cds-service check`.

Every scenario is built into its hook request, POSTed to a fresh app from the shared
`client_factory` (every response checked against the CDS Hooks rules by conftest), with the
service clock fixed to the scenario's `as_of` and the EHR's fhirServer answered in memory from
the scenario's own data (no-prefetch variants). The same judge as `check` decides: a scenario
marked `xfail` (a known clinical disagreement) is reported as xfailed, and fails here as soon
as it passes (remove the mark then).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cds_service.cards.readability import WORD_LIMIT, words_before_data
from cds_service.cli import cli
from cds_service.rules import CARD_SPECS, RULE_IDS
from cds_service.settings import Settings
from cds_service.tools.fhir_memory import MemoryFhirTransport
from cds_service.tools.outcome import from_http
from cds_service.tools.runner import judge
from cds_service.tools.scenario_model import CardExpect, Scenario
from cds_service.tools.scenarios import build_scenario_request, load_scenarios, scenario_files
from tests.conftest import FIXTURES

SCENARIO_DIR = FIXTURES / "scenarios"
SCENARIOS, LOAD_ERRORS = load_scenarios([SCENARIO_DIR])



@pytest.fixture
def post_scenario(
    client_factory: Callable[..., TestClient],
    settings_factory: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[Scenario], tuple[int, Any]]]:
    """POST one scenario's request to its service; the EHR's FHIR server is its own data."""
    transport = MemoryFhirTransport()
    settings = settings_factory(fhir_allow_private_addresses=True, fhir_allow_unauthenticated=True)
    client = client_factory(settings, fhir_transport=transport)

    def post(scenario: Scenario) -> tuple[int, Any]:
        built = build_scenario_request(scenario)
        transport.source = built.fhir
        client.app.state.cds.clock = lambda: scenario.as_of  # the injected clock
        response = client.post(f"/cds-services/{built.service_id}", json=built.body)
        return response.status_code, response.json()

    yield post


def test_every_scenario_file_loads() -> None:
    assert not LOAD_ERRORS, [f"{e.file.name}: {e.message}" for e in LOAD_ERRORS]
    assert len(SCENARIOS) >= 45


def _rule_of(want: CardExpect) -> str:
    return want.rule or CARD_SPECS[str(want.card)].rule_id


def _cards_of(want: CardExpect) -> set[str]:
    """The card keys an expectation pins down (a rule with one card pins that card)."""
    if want.card:
        return {want.card}
    keys = {k for k, spec in CARD_SPECS.items() if spec.rule_id == want.rule}
    return keys if len(keys) == 1 else set()


def test_every_rule_is_shown_firing_and_silent() -> None:
    """Outside the known disagreements, every rule fires somewhere and is expected silent
    somewhere (listed in `absent`, or left out of an `exact` answer), and every card a rule
    can show is expected at least once."""
    settled = [s for s in SCENARIOS if not s.xfail]
    fired = {_rule_of(c) for s in settled for c in s.expect.cards}
    silent = {
        CARD_SPECS[n].rule_id if n in CARD_SPECS else n for s in settled for n in s.expect.absent
    }
    for s in settled:
        if s.expect.exact:
            silent |= set(RULE_IDS) - {_rule_of(c) for c in s.expect.cards}
    cards = {key for s in settled for c in s.expect.cards for key in _cards_of(c)}
    assert set(RULE_IDS) - fired == set()
    assert set(RULE_IDS) - silent == set()
    assert set(CARD_SPECS) - cards == set()


def test_every_hook_and_variant_is_covered() -> None:
    assert {s.hook for s in SCENARIOS} == {"patient-view", "order-select", "order-sign"}
    assert {s.prefetch for s in SCENARIOS} == {"full", "none", "null"}
    assert any(s.request for s in SCENARIOS) and any(s.bundle for s in SCENARIOS)
    assert {s.expect.status for s in SCENARIOS} >= {200, 400, 412}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_over_http(
    scenario: Scenario, post_scenario: Callable[[Scenario], tuple[int, Any]]
) -> None:
    status, body = post_scenario(scenario)
    for card in body.get("cards", []) if status == 200 else []:
        words = words_before_data(card.get("detail"))
        assert words <= WORD_LIMIT, f"{card['summary']!r}: {words} words before the data"
    result = judge(scenario, from_http(status, body))
    if result.verdict == "xfail":
        pytest.xfail(scenario.xfail or "")
    assert result.verdict == "pass", "\n".join(result.reasons)


def test_the_table_passes_through_the_check_command(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CDS_LAB_MAX_AGE_DAYS", "CDS_HYPOMAGNESEMIA_MMOL_PER_L", "CDS_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["check", str(SCENARIO_DIR)])
    assert result.exit_code == 0, result.output
    assert f"{len(SCENARIOS)} scenarios:" in result.output
    assert " 0 fail," in result.output and " 0 xpass," in result.output


def _names(path: Path) -> set[str]:
    return {s.name for s in load_scenarios([path])[0]}


def test_scenario_names_are_unique_across_files() -> None:
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names))
    assert sum(len(_names(p)) for p in scenario_files([SCENARIO_DIR])) == len(names)
