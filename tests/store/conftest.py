"""The store tests' database engine (schema at head) and app client run on each test database
(SQLite, then PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cds_service.store.db import init_schema, make_engine
from tests.conftest import make_settings


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    db = make_engine(database_url)
    init_schema(db)
    yield db
    db.dispose()


@pytest.fixture
def client(
    client_factory: Callable[..., TestClient], tmp_path: Path, database_url: str
) -> TestClient:
    return client_factory(make_settings(tmp_path, database_url=database_url))
