"""Through the real app: exactly one `hook_call` line per call, errors included, without PHI."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import PATIENT_ID, hook_request, service_url


def hook_call_records(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if r.getMessage() == "hook_call"]


@pytest.mark.parametrize(("path", "body", "status"), [
    (service_url("patient-view"), hook_request("patient-view"), 200),
    (service_url("patient-view"), {"hook": "patient-view"}, 400),
    ("/cds-services/nope", hook_request("patient-view"), 404),
])
def test_one_line_per_call(
    client: TestClient, caplog: pytest.LogCaptureFixture, path: str, body: Any, status: int
) -> None:
    caplog.clear()
    assert client.post(path, json=body).status_code == status
    (record,) = hook_call_records(caplog)
    assert record.status == status
    sent_id = path.rsplit("/", 1)[1]
    # An unknown id comes from the caller's URL: logged as a digest, like any caller's text.
    assert (record.service == sent_id) is (status != 404)
    if status == 404:
        assert record.service.startswith("sha256:")
    if status == 200:
        assert record.hookInstance == body["hookInstance"]
        assert record.prefetch["supplied"] == ["patient", "observations", "medications",
                                               "conditions"]
        assert isinstance(record.duration_ms, float)
    assert PATIENT_ID not in str(record.__dict__)
