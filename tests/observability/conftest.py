"""Logging configured as in production (JSON on stderr) for one test, then undone."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from cds_service.observability.logging import configure_logging


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    configure_logging("INFO", json=True)
    yield capsys
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "cds_service"]:
        root.removeHandler(handler)
    structlog.reset_defaults()


def json_lines(capture: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capture.readouterr().err.splitlines() if line]
