"""`cds-service validate`: strict checks of fixtures, each kind with the model that defines it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cds_service.cli import cli
from cds_service.clinical.terminology import get_terminology
from cds_service.commands.validate import Kind, detect_kind, validate_file
from cds_service.hooks.registry import build_registry
from tests.builders import hook_request, medication_request
from tests.conftest import CONFORMANCE

SPEC = CONFORMANCE / "cds-hooks"
FHIR = CONFORMANCE / "fhir"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["validate", *map(str, args)])


def write(tmp_path: Path, data: Any, name: str = "file.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def errors(path: Path, kind: Kind = Kind.auto) -> list[str]:
    return [str(p) for p in validate_file(path, kind).errors]


def test_valid_r4_examples_pass() -> None:
    result = run(
        FHIR / "us-core-8.0.0__observation-serum-potassium.json",
        FHIR / "fhir-r4-examples-4.0.1__Bundle-ghp.json",
    )
    assert result.exit_code == 0, result.output
    assert "2 valid, 0 invalid" in result.stdout


def test_a_broken_observation_is_reported_with_json_paths(tmp_path: Path) -> None:
    observation = json.loads((FHIR / "us-core-8.0.0__observation-serum-potassium.json").read_text())
    observation["valueQuantity"]["value"] = "5,4"
    observation["valueQuantiy"] = {}
    broken = write(tmp_path, observation, "obs.json")
    found = errors(broken)
    assert any(e.startswith("valueQuantity.value: ") for e in found), found
    assert "valueQuantiy: unknown element" in found

    result = run(broken)
    assert result.exit_code == 1
    assert "valueQuantity.value:" in result.stdout
    assert "0 valid, 1 invalid" in result.stdout


def test_a_bundle_is_validated_whole_with_entry_paths(tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {
                "resource": {
                    "resourceType": "Condition",
                    "subject": {"reference": "Patient/p"},
                    "clinicalStatus": "active",
                }
            },
        ],
    }
    assert errors(write(tmp_path, bundle)) == [
        "entry[1].resource.clinicalStatus: expected an object, got str"
    ]


def test_stu3_sample_fails_as_r4() -> None:
    """Correct: these files are STU3 (doseQuantity on the dosage, string statuses)."""
    found = errors(FHIR / "smart-sample-STU3__patient-5555002.fhir-bundle.json")
    assert found and all("doseQuantity: unknown element" in e for e in found)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("cds-hooks-spec-2.0.1__request-patient-view-example.json", Kind.request),
        ("hl7-pddi-cds__digoxin-cyclosporine-order-sign-no-coordination.json", Kind.request),
        ("cds-hooks-spec-2.0.1__response-cards-example.json", Kind.response),
        ("cds-hooks-spec-2.0.1__response-empty-cards.json", Kind.response),
        ("cds-hooks-spec-2.0.1__feedback-accepted-example.json", Kind.feedback),
        ("cds-hooks-spec-2.0.1__feedback-overridden-no-reason-example.json", Kind.feedback),
        ("cds-hooks-spec-2.0.1__feedback-overridden-with-reason-example.json", Kind.feedback),
        ("cds-hooks-docs-current__discovery-response-example.json", Kind.discovery),
        ("cds-hooks-spec-2.0.1__discovery-extension-example.json", Kind.discovery),
    ],
)
def test_spec_examples_are_valid(name: str, kind: Kind) -> None:
    result = validate_file(SPEC / name)
    assert result.kind is kind
    assert result.valid, result.errors


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # CDS Hooks 2.0 Action.description is REQUIRED; the spec's own example omits it.
        (
            "cds-hooks-spec-2.0.1__response-systemActions-example.json",
            "systemActions[0].description: required, missing",
        ),
        # Card.indicator is REQUIRED; the autolaunchable example omits it.
        (
            "cds-hooks-spec-2.0.1__response-autolaunchable-example.json",
            "cards[0].indicator: required, missing",
        ),
        # patient-view needs context.patientId; the extension example only shows userId.
        ("cds-hooks-spec-2.0.1__request-extension-example.json", "context.patientId: "),
        ("hapi-fhir__cds-hooks-test__CdsServiceRequestJson.json", "hookInstance: required"),
    ],
)
def test_spec_errata_and_broken_examples_are_invalid(name: str, expected: str) -> None:
    found = errors(SPEC / name)
    assert any(e.startswith(expected) for e in found), found


def test_a_card_without_uuid_is_valid_with_a_warning() -> None:
    result = validate_file(SPEC / "cds-hooks-spec-2.0.1__response-cards-example.json")
    assert [str(w).split(":")[0] for w in result.warnings] == ["cards[1].uuid"]


def test_request_rules_beyond_the_envelope(tmp_path: Path) -> None:
    """The hook's context rules and the decoder's own rule (fhirAuthorization needs fhirServer)."""
    body = hook_request("order-select", drafts=[medication_request("997010", "quinine")])
    del body["context"]["selections"]
    assert errors(write(tmp_path, body, "a.json")) == [
        "context.selections: Invalid hook context: selections: Field required"
    ]
    body = hook_request("patient-view")
    body["fhirAuthorization"] = {"access_token": "t", "token_type": "Bearer"}
    assert errors(write(tmp_path, body, "b.json")) == [
        "fhirServer: fhirAuthorization was sent without fhirServer."
    ]


def test_our_own_discovery_document_is_valid(tmp_path: Path) -> None:
    registry = build_registry(get_terminology().observation_query_codes())
    assert validate_file(write(tmp_path, registry.discovery())).valid
    duplicated = {"services": registry.discovery()["services"] * 2}
    assert errors(write(tmp_path, duplicated, "dup.json")) == ["(root): service ids must be unique"]


def test_kind_detection_and_override(tmp_path: Path) -> None:
    assert detect_kind({"resourceType": "Patient"}) is Kind.fhir
    assert detect_kind({"hook": "x", "hookInstance": "y"}) is Kind.request
    assert detect_kind({"cards": []}) is Kind.response
    assert detect_kind({"services": []}) is Kind.discovery
    assert detect_kind({"feedback": []}) is Kind.feedback
    assert detect_kind([1]) is None
    fragment = SPEC / "cds-hooks-spec-2.0.1__fhirAuthorization-example.json"
    assert errors(fragment)[0].startswith("(root): cannot tell what this is")
    # Forced: an empty cards list read as a request names the first missing field.
    forced = errors(SPEC / "cds-hooks-spec-2.0.1__response-empty-cards.json", Kind.request)
    assert "hook: required" in forced


def test_exit_codes_and_summary(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{")
    result = run(SPEC / "cds-hooks-spec-2.0.1__response-empty-cards.json", bad_json)
    assert result.exit_code == 1
    assert "not readable JSON" in result.stdout
    assert result.stdout.rstrip().endswith("1 valid, 1 invalid")
    assert run(tmp_path / "absent.json").exit_code == 2, "usage error"
    assert run("--kind", "nope", bad_json).exit_code == 2
    assert (
        run(
            "--kind", "response", SPEC / "cds-hooks-spec-2.0.1__response-empty-cards.json"
        ).exit_code
        == 0
    )
