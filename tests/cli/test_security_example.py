"""SECURITY.md's worked example ("From zero to a 200") runs as written.

The block between `<!-- worked-example -->` markers is run by bash, from the repository root,
with `.venv/bin` (this interpreter's scripts) first on the PATH, no CDS_* variables, and its
port 8080 replaced by a free port. It starts a real `cds-service serve` and talks to it with
curl; every `curl ... # NNN` line must print that status code, in order (keys, trust file,
token: 200; the token again: 401; a discovery token on a hook call: 401; the right token: 200).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOC = ROOT / "SECURITY.md"
_BLOCK = re.compile(r"<!-- worked-example -->\n```sh\n(.*?)```\n<!-- /worked-example -->", re.S)
_EXPECTED = re.compile(r"^curl .*#\s*(\d{3})\s*$", re.M)


def worked_example() -> str:
    match = _BLOCK.search(DOC.read_text(encoding="utf-8"))
    assert match, "SECURITY.md lost its worked example block"
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_example_checks_what_the_issue_asks() -> None:
    script = worked_example()
    assert _EXPECTED.findall(script) == ["200", "401", "401", "200"]
    for step in ("cds-service keys new", "trust.toml", "cds-service token", "trust check"):
        assert step in script


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("curl")), reason="needs bash, curl")
def test_the_worked_example_runs(tmp_path: Path) -> None:
    script = worked_example().replace("8080", str(_free_port()))
    # Whatever happens, the service the script started does not outlive it.
    wrapped = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        TMPDIR=str(tmp_path),
        CDS_LOG_JSON="false",
    )
    process = subprocess.Popen(
        ["bash", "-c", wrapped],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"the example did not finish in 180 s\n{out}\n{err}")
    logs = "\n".join(p.read_text() for p in tmp_path.rglob("service.log"))
    assert process.returncode == 0, f"{out}\n{err}\n{logs}"
    codes = [line for line in out.splitlines() if re.fullmatch(r"\d{3}", line)]
    assert codes == ["200", "401", "401", "200"], f"{out}\n{logs}"
    assert "ACCEPTED" not in out and "REFUSED (the service answers 401)" in out
    assert "aud does not name this endpoint" in out
    assert "Wrote keys/test-ehr.jwks.json" in out
    # The refusals reached the service log with their reasons, and no token did.
    assert "jti already used (replay)" in logs and "aud does not name this endpoint" in logs
    assert "eyJ" not in logs
