"""`GET /metrics`: Prometheus text for the operators' scraper; 404 when metrics are off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.builders import hook_request, service_url


def test_metrics_are_prometheus_text_and_count_hook_calls(client: TestClient) -> None:
    client.post(service_url("patient-view"), json=hook_request("patient-view"))
    client.post("/cds-services/not-a-service", json=hook_request("patient-view"))

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'cds_hook_calls_total{service="muscle-cramps-patient-view",status="200"} 1.0' in text
    )
    assert 'cds_hook_calls_total{service="unknown",status="404"} 1.0' in text
    assert "not-a-service" not in text
    assert 'cds_prefetch_keys_total{key="patient",outcome="supplied"} 1.0' in text
    assert "cds_hook_call_duration_seconds_bucket" in text


def test_metrics_need_no_token(
    client_factory: Callable[..., TestClient], settings_factory: Callable[..., Any]
) -> None:
    secured = client_factory(settings_factory(auth_required=True, profile="sandbox"))
    assert secured.get("/metrics").status_code == 200


def test_each_app_has_its_own_counters(client_factory: Callable[..., TestClient]) -> None:
    first, second = client_factory(), client_factory()
    first.post(service_url("patient-view"), json=hook_request("patient-view"))
    assert "muscle-cramps-patient-view" in first.get("/metrics").text
    assert "muscle-cramps-patient-view" not in second.get("/metrics").text


def test_disabled_metrics_answer_404(
    client_factory: Callable[..., TestClient], settings_factory: Callable[..., Any]
) -> None:
    response = client_factory(settings_factory(metrics_enabled=False)).get("/metrics")
    assert response.status_code == 404
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "metrics-disabled"
