"""Fixtures for the hostile-load suite: a served app with short limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from cds_service.settings import Settings
from tests.hostile.server import Served, serve

# Short limits so that each case takes about a second; the defaults are tested in settings.
FAST_LIMITS: dict[str, Any] = {
    "http_idle_timeout_seconds": 0.5,
    "http_header_timeout_seconds": 0.5,
    "http_body_timeout_seconds": 0.5,
    "http_max_header_bytes": 8192,
    "http_max_headers": 20,
    "http_max_connections": 16,
}


@pytest.fixture
def served(settings_factory: Callable[..., Settings]) -> Iterator[Callable[..., Served]]:
    with ExitStack() as stack:

        def start(**overrides: Any) -> Served:
            return stack.enter_context(serve(settings_factory(**{**FAST_LIMITS, **overrides})))

        yield start
