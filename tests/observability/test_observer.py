"""One log line per hook call, with ids, keys, counts and timings, and the metrics it moves."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from cds_service.cdshooks.response import Card, Source
from cds_service.fhir.prefetch import FhirCall, KeyData, PrefetchResult
from cds_service.observability.metrics import Metrics
from cds_service.observability.observer import Observer
from tests.observability.conftest import json_lines

SERVICE = "muscle-cramps-order-sign"
PATIENT_ID = "pat-7d1e-secret"
TOKEN = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJodHRwczovL2VociJ9.c2lnbmF0dXJl"


@dataclass(frozen=True)
class Rendered:
    card: Card
    rule_id: str


@dataclass
class Report:
    """Stands in for hooks.pipeline.CallReport."""

    prefetch: PrefetchResult | None = None
    rule_ids: list[str] = field(default_factory=list)
    cards: list[Rendered] = field(default_factory=list)
    fhir_ms: float = 0.0


def card(indicator: str = "warning") -> Card:
    return Card(summary="Check magnesium", indicator=indicator, source=Source(label="Guideline"))


def full_report() -> Report:
    patient = {"resourceType": "Patient", "id": PATIENT_ID, "name": [{"family": "Doe"}]}
    prefetch = PrefetchResult(
        keys={
            "patient": KeyData("supplied", (patient,)),
            "observations": KeyData("fetched", ()),
            "medications": KeyData("null"),
            "conditions": KeyData("failed", reason="the FHIR server answered 503"),
        },
        calls=[
            FhirCall("observations", "Observation", 200, 41.26, "ok"),
            FhirCall("conditions", "Condition", 503, 12.0, "status"),
        ],
    )
    return Report(
        prefetch=prefetch,
        rule_ids=["magnesium-low", "statin-myopathy"],
        cards=[Rendered(card("warning"), "magnesium-low"),
               Rendered(card("critical"), "statin-myopathy")],
        fhir_ms=55.5,
    )






@pytest.mark.parametrize(
    ("sent", "logged"),
    [
        ("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"),
        ("urn:uuid:D1577C69-DFBE-44AD-BA6D-3E05E953B2EA", "urn:uuid:D1577C69-DFBE-44AD-BA6D-3E05E953B2EA"),
        ("Jane Doe MRN 12345", "sha256:"),
        ("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea and more", "sha256:"),
    ],
)
def test_a_hook_instance_that_is_no_uuid_is_logged_as_a_digest(
    json_logs: pytest.CaptureFixture[str], sent: str, logged: str
) -> None:
    Observer(Metrics()).hook_call(
        service_id=SERVICE, status=200, duration_seconds=0.1, hook_instance=sent, report=None
    )
    (line,) = [entry for entry in json_lines(json_logs) if entry["event"] == "hook_call"]
    assert line["hookInstance"].startswith(logged)
    if logged == "sha256:":
        assert len(line["hookInstance"]) == len("sha256:") + 16 and "Jane" not in line["hookInstance"]


def test_one_json_line_per_hook_call_with_the_fields(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    Observer(Metrics()).hook_call(
        service_id=SERVICE, status=200, duration_seconds=0.1234,
        hook_instance="d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", report=full_report(),
    )

    (line,) = [entry for entry in json_lines(json_logs) if entry["event"] == "hook_call"]
    assert line["hookInstance"] == "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    assert line["service"] == SERVICE and line["status"] == 200
    assert line["duration_ms"] == 123.4
    assert line["rules"] == ["magnesium-low", "statin-myopathy"]
    assert line["cards"] == 2
    assert line["prefetch"] == {
        "supplied": ["patient"], "fetched": ["observations"], "null": ["medications"],
        "failed": ["conditions"],
    }
    assert line["fhir_calls"] == [
        {"key": "observations", "resource_type": "Observation", "status_code": 200,
         "ms": 41.3, "outcome": "ok"},
        {"key": "conditions", "resource_type": "Condition", "status_code": 503,
         "ms": 12.0, "outcome": "status"},
    ]
    assert line["level"] == "info" and line["timestamp"].endswith("Z")


def test_the_hook_call_line_carries_no_phi(json_logs: pytest.CaptureFixture[str]) -> None:
    Observer(Metrics()).hook_call(
        service_id=SERVICE, status=200, duration_seconds=0.01, hook_instance="h-1",
        report=full_report(),
    )
    text = json_logs.readouterr().err
    assert PATIENT_ID not in text and "Doe" not in text
    assert "answered 503" not in text, "no failure reason text"
    assert "http" not in text, "no URLs"


def test_an_error_call_logs_without_a_report(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="cds_service.calls"):
        Observer(None).hook_call(
            service_id=SERVICE, status=400, duration_seconds=0.002, hook_instance=None,
            report=Report(),
        )
    (record,) = caplog.records
    assert record.getMessage() == "hook_call"
    assert (record.status, record.cards, record.rules) == (400, 0, [])  # type: ignore[attr-defined]
    assert record.hookInstance is None  # type: ignore[attr-defined]


def test_metrics_move_with_each_call() -> None:
    metrics = Metrics()
    observer = Observer(metrics)
    observer.hook_call(service_id=SERVICE, status=200, duration_seconds=0.2,
                       hook_instance="h-1", report=full_report())
    observer.hook_call(service_id=SERVICE, status=412, duration_seconds=0.05,
                       hook_instance="h-2", report=Report())
    value = metrics.registry.get_sample_value

    assert value("cds_hook_calls_total", {"service": SERVICE, "status": "200"}) == 1
    assert value("cds_hook_calls_total", {"service": SERVICE, "status": "412"}) == 1
    assert value("cds_hook_call_duration_seconds_count", {"service": SERVICE, "status": "200"}) == 1
    assert value("cds_cards_total", {"rule": "statin-myopathy", "indicator": "critical"}) == 1
    assert value("cds_prefetch_keys_total", {"key": "patient", "outcome": "supplied"}) == 1
    assert value("cds_prefetch_keys_total", {"key": "conditions", "outcome": "failed"}) == 1
    assert value("cds_fhir_request_duration_seconds_count", {"resource_type": "Observation"}) == 1
    assert value("cds_fhir_errors_total", {"reason": "status"}) == 1
    assert value("cds_fhir_errors_total", {"reason": "ok"}) is None


def test_unknown_service_ids_do_not_become_labels() -> None:
    metrics = Metrics()
    Observer(metrics).hook_call(service_id="attacker-chosen-1", status=404,
                                duration_seconds=0.001, hook_instance=None, report=Report())
    text = metrics.exposition()[0].decode()
    assert "attacker-chosen-1" not in text
    assert metrics.registry.get_sample_value(
        "cds_hook_calls_total", {"service": "unknown", "status": "404"}
    ) == 1


def test_feedback_is_counted_by_rule_and_outcome(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    with caplog.at_level(logging.INFO, logger="cds_service.calls"):
        Observer(metrics).feedback(SERVICE, [("magnesium-low", "accepted"),
                                             ("magnesium-low", "overridden"),
                                             (None, "overridden")])
    value = metrics.registry.get_sample_value
    assert value("cds_feedback_total", {"rule": "magnesium-low", "outcome": "accepted"}) == 1
    assert value("cds_feedback_total", {"rule": "unknown", "outcome": "overridden"}) == 1
    (record,) = caplog.records
    assert record.outcomes == {"accepted": 1, "overridden": 2}  # type: ignore[attr-defined]


def test_a_broken_report_never_breaks_the_call(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        @property
        def rule_ids(self) -> list[str]:
            raise RuntimeError("bug elsewhere")

        cards: list[Any] = []
        prefetch = None
        fhir_ms = 0.0

    Observer(Metrics()).hook_call(service_id=SERVICE, status=200, duration_seconds=0.1,
                                  hook_instance="h", report=Broken())
    assert "could not report a hook call: RuntimeError" in caplog.text


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()  # the global registry would refuse the second
    first.hook_calls.labels(SERVICE, "200").inc()
    assert second.registry.get_sample_value(
        "cds_hook_calls_total", {"service": SERVICE, "status": "200"}
    ) is None
    body, content_type = first.exposition()
    assert b"cds_hook_calls_total" in body and content_type.startswith("text/plain")


def test_a_token_passed_by_mistake_is_masked(json_logs: pytest.CaptureFixture[str]) -> None:
    Observer(None).hook_call(service_id=SERVICE, status=200, duration_seconds=0.01,
                             hook_instance=TOKEN, report=None)
    text = json_logs.readouterr().err
    assert TOKEN not in text and '"hookInstance":"sha256:' in text


def test_bound_children_are_the_labelled_series_looked_up_once() -> None:
    metrics = Metrics()
    child = metrics.bound(metrics.hook_calls, SERVICE, "200")
    assert child is metrics.bound(metrics.hook_calls, SERVICE, "200")
    assert child is metrics.hook_calls.labels(SERVICE, "200")
    assert metrics.bound(metrics.hook_latency, SERVICE, "200") is not child
