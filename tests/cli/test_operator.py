"""What a new operator runs into with the command line (issue 12, items 6, 7 and 10).

- a misspelt `CDS_*` variable is named by every command, not only by `serve`;
- a port already in use: one line, exit 2, and nothing created (no SQLite file);
- `--help` shows click-style value names, never typer's `<bool>`/`<str>` tags;
- `serve --workers 2` logs the URL it listens on.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import uvicorn
from typer.testing import CliRunner

from cds_service.cli import cli
from tests.conftest import FIXTURES

MISSPELT = "CDS_LAB_MAX_AGE_DAY"
WARNING = (
    f"Warning: {MISSPELT} is not a setting and is ignored (did you mean CDS_LAB_MAX_AGE_DAYS?)"
)
REQUEST = FIXTURES / "requests" / "quinine-order-select.json"
POTASSIUM = FIXTURES / "conformance" / "fhir" / "us-core-8.0.0__observation-serum-potassium.json"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # the default database (./cds_service.db) would land here


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other process listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def _commands() -> set[str]:
    return set(typer.main.get_command(cli).commands)  # type: ignore[attr-defined]


COMMAND_RUNS: dict[str, list[str]] = {
    "evaluate": ["evaluate", str(REQUEST), "--today", "2026-11-20"],
    "check": ["check", str(FIXTURES / "scenarios" / "protocol.yaml")],
    "report": ["report", "--json", "--database-url", "sqlite://"],
    "validate": ["validate", str(POTASSIUM)],
    "request": ["request", str(FIXTURES / "patients" / "quinine-demo" / "patient-bundle.json")],
    "keys": ["keys", "new", "--out", "keys"],
    "token": [
        "token", "http://127.0.0.1:8080/cds-services",
        "--key", str(FIXTURES / "conformance" / "sandbox" / "jwk-keypair.json"),
        "--iss", "https://sandbox.cds-hooks.org",
    ],  # fmt: skip
    "trust": ["trust", "check"],
    "db": ["db", "status", "--database-url", "sqlite://"],
}


def test_every_command_but_serve_has_a_run_here() -> None:
    assert _commands() - {"serve"} == set(COMMAND_RUNS)


@pytest.mark.parametrize("command", sorted(COMMAND_RUNS))
def test_every_command_names_a_misspelt_variable(
    monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv(MISSPELT, "3650")
    result = CliRunner().invoke(cli, COMMAND_RUNS[command])
    assert WARNING in result.stderr, (result.exit_code, result.output)
    assert result.exit_code in (0, 1), result.output  # the command itself still ran


def test_no_warning_without_a_misspelt_variable() -> None:
    result = CliRunner().invoke(cli, COMMAND_RUNS["validate"])
    assert result.exit_code == 0 and "Warning" not in result.stderr


def test_serve_names_it_in_the_service_log_instead(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """serve's warning is the app's log line (once per worker), not a second copy on stderr."""
    monkeypatch.setenv(MISSPELT, "3650")
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path}/serve.db")
    monkeypatch.setattr(uvicorn, "run", lambda *_a, **_kw: None)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(cli, ["serve", "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert "Warning:" not in result.stderr


def test_a_port_in_use_is_one_line_exit_2_and_creates_nothing(
    busy_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    result = CliRunner().invoke(cli, ["serve", "--port", str(busy_port)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"Cannot listen on 127.0.0.1:{busy_port}: port {busy_port} is")
    assert "--port" in lines[0] and "Traceback" not in result.output
    assert started == []
    assert list(tmp_path.iterdir()) == []  # no ./cds_service.db


def test_an_address_not_on_this_machine_is_one_line_too(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", "192.0.2.1", "--port", "8080"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Cannot listen on 192.0.2.1:8080: no such address on this machine (check --host)"
    )
    assert list(tmp_path.iterdir()) == []


_TYPE_TAG = re.compile(r"<(bool|str|int|float|path|file|list\[[^\]]*\]|[A-Za-z]+)>")


HELP_PAGES = [
    [],
    *([c] for c in sorted(_commands())),
    ["keys", "new"],
    ["keys", "jwks"],
    ["trust", "check"],
]


@pytest.mark.parametrize("argv", HELP_PAGES, ids=[" ".join(a) or "cds-service" for a in HELP_PAGES])
def test_help_shows_no_type_tags(argv: list[str]) -> None:
    result = CliRunner().invoke(cli, [*argv, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert not _TYPE_TAG.search(result.output), result.output


def test_serve_with_two_workers_logs_where_it_listens(tmp_path: Path) -> None:
    """The parent process logs the URL (uvicorn's line and ours) before any worker starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env.update(CDS_DATABASE_URL=f"sqlite:///{tmp_path}/cds.db", CDS_LOG_JSON="true")
    process = subprocess.Popen(
        [sys.executable, "-m", "cds_service", "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    threading.Thread(target=lambda: [lines.put(x) for x in process.stderr or ()], daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("Uvicorn running" in s for s in seen) and time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                break
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # never leave a server behind
            process.wait()
    events = [json.loads(line)["event"] for line in seen if line.startswith("{")]
    url = f"http://127.0.0.1:{port}"
    assert f"cds-service listening on {url} with 2 workers" in " ".join(events), seen
    assert any(e.startswith(f"Uvicorn running on {url}") for e in events), seen
