"""A catalog loaded once per session, and a copy of `cards/` tests may break on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cds_service.cards.catalog import CardCatalog

CARDS_DIR = Path(__file__).resolve().parents[2] / "cards"


@pytest.fixture(scope="session")
def catalog() -> CardCatalog:
    return CardCatalog.load()


@pytest.fixture
def cards_copy(tmp_path: Path) -> Path:
    target = tmp_path / "cards"
    shutil.copytree(CARDS_DIR, target)
    return target
