"""`cds-service serve` refuses settings it cannot use in one line naming the variable (exit 2),
before uvicorn starts, rather than in a traceback from inside the server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from cds_service.cli import cli


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, object]]:
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path}/serve.db")
    started: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_a, **kw: started.append(kw))
    return started


def serve() -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["serve", "--port", "18080"])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not-a-url", "not a database URL"),
        ("sqlite:////nonexistent-dir/cds.db", "cannot open sqlite:////nonexistent-dir/cds.db"),
        ("postgresql+psycopg://cds:s3cret@db.invalid/cds", "CDS_DATABASE_URL"),
    ],
)
def test_a_database_that_cannot_be_opened_stops_serve(
    monkeypatch: pytest.MonkeyPatch, environment: list[object], url: str, says: str
) -> None:
    monkeypatch.setenv("CDS_DATABASE_URL", url)
    code, output = serve()
    assert code == 2, output
    assert output.startswith("Invalid configuration: CDS_DATABASE_URL: ")
    assert says in output and "s3cret" not in output and "Traceback" not in output
    assert environment == []


@pytest.mark.parametrize(
    ("trust_file", "says"),
    [
        ("missing.toml", "cannot read"),
        ("broken.toml", "not valid TOML"),
    ],
)
def test_an_unusable_trust_file_stops_serve(
    monkeypatch: pytest.MonkeyPatch,
    environment: list[object],
    tmp_path: Path,
    trust_file: str,
    says: str,
) -> None:
    (tmp_path / "broken.toml").write_text("[[clients]\n")
    monkeypatch.setenv("CDS_TRUST_FILE", str(tmp_path / trust_file))
    code, output = serve()
    assert code == 2, output
    assert output.startswith("Invalid configuration: CDS_TRUST_FILE") and says in output
    assert environment == []


def test_production_refuses_the_sandbox_before_starting(
    monkeypatch: pytest.MonkeyPatch, environment: list[object], tmp_path: Path
) -> None:
    trust = tmp_path / "trust.toml"
    trust.write_text('[[clients]]\niss = "https://sandbox.cds-hooks.org"\n')
    monkeypatch.setenv("CDS_TRUST_FILE", str(trust))
    code, output = serve()
    assert code == 2 and "production" in output, output
    assert environment == []


def test_usable_settings_start_uvicorn(environment: list[dict[str, object]]) -> None:
    code, output = serve()
    assert code == 0, output
    assert environment and environment[0]["port"] == 18080
