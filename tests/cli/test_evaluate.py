"""`cds-service evaluate`: the same pipeline as the API, printed for people or as the API body."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from cds_service.cli import cli
from cds_service.commands.evaluate import evaluate_files
from cds_service.settings import Settings
from cds_service.tools.fhir_memory import MemoryFhirTransport
from cds_service.tools.scenarios import build_scenario_request, load_scenarios
from tests.builders import (
    ICD10,
    condition,
    hook_request,
    medication_request,
    observation,
    patient,
    searchset,
    service_url,
)
from tests.conftest import FIXTURES
from tests.invariants import assert_conformant_cds_response, assert_operation_outcome

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FHIR = "http://127.0.0.1:8765/fhir"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the settings these tests name; nothing from the developer's shell."""
    import os

    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path}/cds.db")
    monkeypatch.setenv("CDS_AUTH_REQUIRED", "false")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["evaluate", *args])


def write(tmp_path: Path, body: dict[str, Any], name: str = "request.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(body))
    return path


def quinine_request(**kwargs: Any) -> dict[str, Any]:
    """An older patient with cramps, low eGFR; quinine and magnesium oxide being ordered."""
    quinine = medication_request(
        "997010", "quinine sulfate 324 MG Oral Capsule", mid="q1", reason=(ICD10, "R25.2")
    )
    magnesium = medication_request("311486", "magnesium oxide 400 MG Oral Tablet", mid="m1")
    return hook_request(
        "order-select",
        patient_resource=patient(birth_date="1940-01-01"),
        observations=[observation("98979-8", 25, "mL/min/{1.73_m2}", when="2026-11-01")],
        conditions=[condition("R25.2", display="Cramp and spasm")],
        drafts=[quinine, magnesium],
        **kwargs,
    )


def without_uuids(text: str) -> Any:
    return json.loads(UUID.sub("<uuid>", text))


def test_readable_output_shows_rule_evidence_suggestions_and_reasons(tmp_path: Path) -> None:
    result = run(str(write(tmp_path, quinine_request())), "--today", "2026-11-20")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "muscle-cramps-order-select" in out
    assert "quinine-for-cramps" in out and "magnesium-supplement" in out
    assert "CRITICAL" in out and "WARNING" in out
    assert "25 mL/min/1.73m2" in out and "2026-11-01" in out, "evidence value and date"
    assert "MedicationRequest/q1" in out, "evidence source"
    assert "delete MedicationRequest/q1" in out, "the suggestion's action"
    assert "create ServiceRequest LOINC" in out
    assert "Override reasons:" in out


def test_json_is_the_http_body_for_the_same_request(tmp_path: Path, client: TestClient) -> None:
    body = quinine_request()
    http = client.post(service_url("order-select"), json=body)
    assert http.status_code == 200

    result = run(str(write(tmp_path, body)), "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert_conformant_cds_response(printed)
    assert printed["cards"], "the example must produce cards"
    assert without_uuids(result.stdout) == without_uuids(http.text)


def test_the_ready_made_fixture_answers_as_the_api_does(client: TestClient) -> None:
    """The request shipped in fixtures/ (README, docs/cli.md): same body over HTTP and here."""
    path = FIXTURES / "requests" / "quinine-order-select.json"
    http = client.post(
        service_url("order-select"),
        content=path.read_bytes(),
        headers={"Content-Type": "application/json"},
    )
    result = run(str(path), "--json")
    assert (result.exit_code, http.status_code) == (0, 200), result.output
    assert json.loads(result.stdout)["cards"]
    assert without_uuids(result.stdout) == without_uuids(http.text)


def test_a_bad_request_prints_the_apis_operation_outcome(
    tmp_path: Path, client: TestClient
) -> None:
    body = quinine_request()
    del body["hookInstance"]
    http = client.post(service_url("order-select"), json=body)
    assert http.status_code == 400

    result = run(str(write(tmp_path, body)), "--json")
    assert result.exit_code == 2
    assert_operation_outcome(json.loads(result.stdout))
    assert json.loads(result.stdout) == http.json()


def test_hook_mismatch_and_unknown_service_are_request_errors(tmp_path: Path) -> None:
    path = str(write(tmp_path, quinine_request()))
    mismatch = run(path, "--service", "muscle-cramps-patient-view", "--json")
    assert mismatch.exit_code == 2
    assert json.loads(mismatch.stdout)["issue"][0]["expression"] == ["hook"]

    unknown = run(path, "--service", "nope", "--json")
    assert unknown.exit_code == 2
    assert json.loads(unknown.stdout)["issue"][0]["details"]["coding"][0]["code"] == (
        "unknown-service"
    )


def test_missing_prefetch_without_a_server_is_412(tmp_path: Path) -> None:
    result = run(str(write(tmp_path, quinine_request(prefetch=False))))
    assert result.exit_code == 3
    assert "HTTP 412" in result.stdout
    assert "prefetch.patient: failed (not fetched: the request has no fhirServer)" in result.stdout
    outcome = json.loads(result.stdout[result.stdout.index("\n{") :])
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "data-unavailable"


def fhir_server(router: respx.MockRouter, seen: list[httpx.Request]) -> None:
    """A FHIR server with the patient's data; records every request it gets."""

    def reply(payload: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json=payload)

        return handler

    router.get(f"{FHIR}/Patient/pat-1").mock(side_effect=reply(patient(birth_date="1940-01-01")))
    router.get(f"{FHIR}/Observation").mock(
        side_effect=reply(searchset(observation("98979-8", 25, "mL/min/{1.73_m2}")))
    )
    router.get(f"{FHIR}/MedicationRequest").mock(side_effect=reply(searchset()))
    router.get(f"{FHIR}/Condition").mock(side_effect=reply(searchset(condition("R25.2"))))


def test_fhir_server_option_fetches_missing_prefetch(tmp_path: Path) -> None:
    body = quinine_request(prefetch=False, fhir_server="https://ehr.example.org/fhir")
    body["fhirAuthorization"] = {"access_token": "secret-for-ehr", "token_type": "Bearer"}
    seen: list[httpx.Request] = []
    with respx.mock(assert_all_called=False) as router:
        fhir_server(router, seen)
        result = run(str(write(tmp_path, body)), "--fhir-server", FHIR, "--json")
    assert result.exit_code == 0, result.output
    rules = json.loads(result.stdout)["cards"]
    assert any("Quinine" in card["summary"] for card in rules)
    assert {r.url.path.rsplit("/", 1)[-1] for r in seen} >= {"pat-1", "Observation", "Condition"}
    assert all("authorization" not in r.headers for r in seen), "the EHR's token stays home"
    assert "fhirAuthorization dropped" in result.stderr


def test_a_loopback_server_named_only_in_the_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a server the user typed may be loopback; the file's own fhirServer follows
    CDS_FHIR_ALLOWED_HOSTS and friends, like an unauthenticated API caller's."""
    monkeypatch.setenv("CDS_FHIR_ALLOW_UNAUTHENTICATED", "true")
    monkeypatch.setenv("CDS_FHIR_ALLOWED_HOSTS", "127.0.0.1")
    body = quinine_request(prefetch=False, fhir_server=FHIR)
    seen: list[httpx.Request] = []
    with respx.mock(assert_all_called=False) as router:
        fhir_server(router, seen)
        result = run(str(write(tmp_path, body)), "--json")
    assert result.exit_code == 3
    assert not seen
    assert "loopback" in result.stderr, "the reason, on stderr"


def test_several_files_one_json_line_each_worst_exit_code(tmp_path: Path) -> None:
    good = write(tmp_path, quinine_request(), "good.json")
    missing = write(tmp_path, quinine_request(prefetch=False), "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run(str(good), str(missing), str(broken), "--json")
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert "cards" in json.loads(lines[0])
    assert json.loads(lines[1])["resourceType"] == "OperationOutcome"
    assert json.loads(lines[2])["issue"][0]["details"]["text"] == (
        "The request body is not valid JSON."
    )
    assert result.exit_code == 3


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    path = str(write(tmp_path, quinine_request()))
    assert run(path, "--today", "yesterday").exit_code == 2
    assert run(path, "--fhir-server", "ftp://x").exit_code == 2
    assert run(str(tmp_path / "absent.json")).exit_code == 2


def test_json_is_the_http_body_for_every_scenario(
    tmp_path: Path,
    client_factory: Callable[..., TestClient],
    settings_factory: Callable[..., Settings],
) -> None:
    """One request path (issue 11): for every scenario of fixtures/scenarios, `evaluate --json`
    prints the body and status the HTTP route answers, the EHR's FHIR server being the
    scenario's own data on both sides, the clock its `as_of`."""
    settings = settings_factory(fhir_allow_private_addresses=True, fhir_allow_unauthenticated=True)
    transport = MemoryFhirTransport()
    client = client_factory(settings, fhir_transport=transport)
    scenarios, errors = load_scenarios([FIXTURES / "scenarios"])
    assert not errors and len(scenarios) > 300
    for index, scenario in enumerate(scenarios):
        built = build_scenario_request(scenario)
        transport.source = built.fhir
        client.app.state.cds.clock = lambda: scenario.as_of  # noqa: B023 - used at once
        http = client.post(f"/cds-services/{built.service_id}", json=built.body)
        path = write(tmp_path, built.body, f"{index}.json")
        (outcome,) = asyncio.run(
            evaluate_files(
                settings,
                [path],
                service_id=built.service_id,
                today=scenario.as_of,
                fhir_transport=transport,
            )
        )
        assert outcome.status == http.status_code, scenario.name
        assert without_uuids(outcome.body.decode()) == without_uuids(http.text), scenario.name
