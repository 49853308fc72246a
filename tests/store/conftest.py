"""The store tests' app client runs on each test database (SQLite, then PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_settings


@pytest.fixture
def client(
    client_factory: Callable[..., TestClient], tmp_path: Path, database_url: str
) -> TestClient:
    return client_factory(make_settings(tmp_path, database_url=database_url))
