"""Real `cds-service serve` processes for the replica, metrics and shutdown tests.

Each server is the installed command in a subprocess with its own environment (no CDS_* from
the test run leaks in), on a free port, with its log in a file the test can read.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from joserfc.jwk import ECKey

from tests.security.helpers import claims, mint, public_jwks

ROOT = Path(__file__).resolve().parents[2]
REQUEST = json.loads((ROOT / "fixtures" / "requests" / "quinine-order-select.json").read_text())
ORDER_SELECT = "/cds-services/muscle-cramps-order-select"
PUBLIC_BASE_URL = "https://cds.example.org"  # the load balancer's name, shared by replicas
ISSUER = "https://ehr.example.org/fhir"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def stopped_gracefully(self) -> bool:
        """SIGTERM, and the application's shutdown ran to its end. (uvicorn re-raises the
        signal once it has shut down, so the exit status is -SIGTERM, not 0.)"""
        code = self.stop()
        done = any(line.get("event") == "Application shutdown complete."
                   for line in self.log_lines())
        return code in (0, -signal.SIGTERM) and done

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                lines.append({"event": line})
        return lines


def launch(
    tmp_path: Path, env: dict[str, str], *, workers: int = 1, name: str = "server"
) -> Server:
    """Start `cds-service serve` (not yet ready: see `wait_ready`)."""
    port = free_port()
    log = tmp_path / f"{name}-{port}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    environment.update({"CDS_LOG_JSON": "true", "TMPDIR": str(tmp_path)} | env)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cds_service", "serve", "--port", str(port),
             "--workers", str(workers)],
            env=environment, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
        )
    return Server(process, port, log)


def wait_ready(*servers: Server) -> None:
    """Wait until each server's /health/ready answers 200 (start-up imports take seconds)."""
    deadline = time.monotonic() + 90
    for server in servers:
        while True:
            if server.process.poll() is not None:
                raise AssertionError(
                    f"serve exited {server.process.returncode}:\n{server.log.read_text()}"
                )
            try:
                if httpx.get(server.url + "/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                for each in servers:
                    each.stop(signal.SIGKILL)
                raise AssertionError(f"serve did not become ready:\n{server.log.read_text()}")
            time.sleep(0.2)


def start(
    tmp_path: Path, env: dict[str, str], *, workers: int = 1, name: str = "server"
) -> Server:
    """Start `cds-service serve` and wait until it is ready."""
    server = launch(tmp_path, env, workers=workers, name=name)
    wait_ready(server)
    return server


def trust_file(tmp_path: Path, key: ECKey) -> Path:
    """A trust file for one EHR whose public key is `key`'s."""
    jwks = tmp_path / "ehr.jwks.json"
    jwks.write_text(json.dumps(public_jwks(key)))
    path = tmp_path / "trust.toml"
    path.write_text(f'[[clients]]\niss = "{ISSUER}"\nname = "ehr"\njwks_file = "{jwks.name}"\n')
    return path


def authenticated_env(tmp_path: Path, key: ECKey, database_url: str) -> dict[str, str]:
    return {
        "CDS_PROFILE": "production",
        "CDS_TRUST_FILE": str(trust_file(tmp_path, key)),
        "CDS_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "CDS_DATABASE_URL": database_url,
    }


def token(key: ECKey, path: str) -> str:
    """A fresh token for one endpoint, as the EHR mints it (aud: the public URL)."""
    return mint(key, claims(iss=ISSUER, aud=PUBLIC_BASE_URL + path), kid=key.kid)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}
