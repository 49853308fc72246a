"""Machine instructions per hook call, counted by callgrind: a cost that noise cannot move.

    python bench/instructions.py                      # 10 / 100 / 1,000 Observations + fallback
    python bench/instructions.py --sizes 100 --calls 20 --no-fallback
    python bench/instructions.py --app bare        # or --app no-guideline: the reference points

On a shared 2-core machine, wall and CPU times of the same build vary by 30% from one minute
to the next; instruction counts repeat to within a few percent (the periodic served-card flush
and the garbage collector land on different calls). Use this to judge a
change (run it on both commits), and bench/run for the real throughput and latency.

How: a child process builds the app as `cds-service serve` does (`app_from_env`, lifespan
entered, gc frozen), warms up with 30 calls, then callgrind's counters are zeroed
(`callgrind_control -z`), `--calls` calls are driven through the whole ASGI app in-process
(middleware, routing, validation, pipeline, logging, metrics, served-card queue; no sockets
on our side), and the counters are dumped. The fallback case fetches from bench/fhir_stub.py
with no delay, so httpx's share shows. Needs valgrind (`apt-get install valgrind`); about two
minutes per case, as valgrind runs Python some 50x slower.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import payloads  # noqa: E402

PATH = "/cds-services/muscle-cramps-order-select"
CHUNK = 65_536  # what uvicorn hands the app per receive() at most


def _service_env(db_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "CDS_PROFILE": "development",
        "CDS_AUTH_REQUIRED": "false",
        "CDS_DATABASE_URL": f"sqlite:///{db_dir}/instructions.db",
        "CDS_FHIR_ALLOW_UNAUTHENTICATED": "true",
        "CDS_FHIR_ALLOW_PRIVATE_ADDRESSES": "true",
        "CDS_FHIR_ALLOWED_HOSTS": "127.0.0.1",
        "CDS_LOG_LEVEL": "INFO",
    }


def _app(kind: str) -> Any:
    """`service`; `no-guideline`: the service with `run_hook` answering no cards (what the
    plumbing costs: validation, depth check, routing, middleware, log line, metrics); `bare`:
    bench/bare_app.py."""
    if kind == "bare":
        from bare_app import app

        return app
    if kind == "no-guideline":
        import cds_service.api.services as services
        from cds_service.cdshooks.response import CdsResponse

        async def no_guideline(*_args: object, **_kwargs: object) -> CdsResponse:
            return CdsResponse(cards=[])

        services.run_hook = no_guideline  # type: ignore[assignment]
    from cds_service.app import app_from_env

    return app_from_env()


async def _drive(body: bytes, calls: int, signal_dir: Path) -> None:
    """Child: warm up, wait for the zeroed counters, make `calls` calls, report done."""
    app = _app(os.environ.get("BENCH_APP", "service"))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080),
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }  # fmt: skip
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]

    async def call() -> None:
        pending = list(chunks)
        status: list[int] = []

        async def receive() -> dict[str, object]:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))  # type: ignore[call-overload]

        await app(dict(scope), receive, send)
        if status != [200]:
            raise SystemExit(f"the service answered {status}")

    async with app.router.lifespan_context(app):
        for _ in range(30):
            await call()
        gc.collect()
        gc.freeze()
        (signal_dir / "ready").write_text(str(os.getpid()))
        while not (signal_dir / "go").exists():
            await asyncio.sleep(0.1)
        for _ in range(calls):
            await call()
        (signal_dir / "done").write_text("")
        while not (signal_dir / "end").exists():
            await asyncio.sleep(0.1)


def _wait_for(path: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    while not path.exists():
        if proc.poll() is not None:
            raise SystemExit(f"the child stopped early; its log:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def count(case: str, body: bytes, calls: int, work: Path, env: dict[str, str]) -> int:
    """Instructions per call for one request body, through callgrind."""
    signal_dir = work / case
    signal_dir.mkdir()
    body_file = signal_dir / "body.json"
    body_file.write_bytes(body)
    log = signal_dir / "child.log"
    cmd = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={signal_dir}/cg.%p",
        sys.executable, __file__, "--child", str(body_file), str(calls), str(signal_dir),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(signal_dir / "ready", proc, log)
        pid = (signal_dir / "ready").read_text()
        subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
        (signal_dir / "go").write_text("")
        _wait_for(signal_dir / "done", proc, log)
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
        (signal_dir / "end").write_text("")
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    dump = next(signal_dir.glob("cg.*.1"))  # the dump taken after `calls` calls
    for line in dump.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1]) // calls
    raise SystemExit(f"no summary line in {dump}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="Observation counts")
    parser.add_argument("--calls", type=int, default=10, help="calls counted per case")
    parser.add_argument("--no-fallback", action="store_true", help="skip the FHIR-stub case")
    parser.add_argument(
        "--app",
        choices=("service", "no-guideline", "bare"),
        default="service",
        help="what to count: the service, the service with a no-op guideline, or the bare endpoint",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        body_file, calls, signal_dir = args.child
        asyncio.run(_drive(Path(body_file).read_bytes(), int(calls), Path(signal_dir)))
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    base = payloads.load()
    cases = [(f"{n} Observations", payloads.dumps(payloads.with_observations(base, n)))
             for n in (int(s) for s in args.sizes.split(","))]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="cds-instructions-") as tmp:
        work = Path(tmp)
        env = {**_service_env(tmp), "BENCH_APP": args.app}
        stub = None
        if not args.no_fallback and args.app != "bare":
            port = _free_port()
            stub = subprocess.Popen(
                [sys.executable, str(HERE / "serve.py"), "fhir_stub:app", str(port)],
                env={**os.environ, "STUB_DELAY_MS": "0"}, cwd=HERE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            _wait_port(port)
            fallback = payloads.without_prefetch(base, f"http://127.0.0.1:{port}/fhir")
            cases.append(("fallback (4 FHIR reads)", payloads.dumps(fallback)))
        try:
            print("| Call | instructions per call |\n|---|---:|")
            for i, (name, body) in enumerate(cases):
                n = count(f"case{i}", body, args.calls, work, env)
                print(f"| {name} | {n:,} |", flush=True)
        finally:
            if stub is not None:
                stub.terminate()
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"the FHIR stub did not start on port {port}")


if __name__ == "__main__":
    raise SystemExit(main())
