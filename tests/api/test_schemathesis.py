"""Property-based run of the OpenAPI schema against the app: no input may cause a server error."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from cds_service.app import create_app
from tests.conftest import make_settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _app():  # type: ignore[no-untyped-def]
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="cds-schemathesis-"))
    return create_app(make_settings(tmp, log_level="ERROR"))


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_causes_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    not_a_server_error_ok = response.status_code < 500
    assert not_a_server_error_ok, (
        case.method,
        case.path,
        response.status_code,
        response.text[:300],
    )
    if response.status_code >= 400:
        body = response.json()
        assert body["resourceType"] == "OperationOutcome"
