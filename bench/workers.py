"""`serve --workers 1` against `--workers 2`, on SQLite and on PostgreSQL, and what PostgreSQL
costs per call. Run by `bench/run` after the main benchmark, or alone: `bench/run workers`.

    python bench/workers.py [--rounds 3] [--duration 10] [--connections 32] [--size 100]

Four servers, each the real `cds-service serve --workers N` (N = 1, 2) on a fresh SQLite file
or a fresh PostgreSQL database (created on the server at BENCH_POSTGRES_URL, default the
development and CI server postgresql+psycopg://postgres@127.0.0.1:5432/test, and dropped at
the end; skipped with a line saying so when no PostgreSQL answers). Development profile with
authentication off, logging, metrics and the served-card audit on, as in bench.py; the
order-select request with `--size` Observations. The rounds interleave the four servers, and
medians over rounds are reported. No CPU pinning: two workers need both cores, so the load
generator shares them; compare the ratios within a run, not with other machines.

Reported per server: req/s, p50/p99 latency, CPU ms per call of the whole process tree (the
serve process and its workers). For PostgreSQL, per call: transactions and rows written (from
pg_stat_database for the bench database only) and the CPU time of the PostgreSQL backends
serving it (from /proc). And the one write on a call's path when authentication is on, the
JWT replay insert, timed in-process on both databases.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import loadgen  # noqa: E402
import payloads  # noqa: E402

HOOK_PATH = "/cds-services/muscle-cramps-order-select"
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def log(message: str) -> None:
    print(f"[workers {time.strftime('%H:%M:%S')}] {message}", flush=True)


def process_tree_cpu(root: int) -> float:
    """User + system CPU seconds of `root` and every descendant still running."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(cpu.get(pid, 0.0) for pid in tree)


def busy_cpu_seconds() -> float:
    """CPU seconds all CPUs have spent busy since boot (/proc/stat, every process)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def harness_cpu() -> float:
    """CPU seconds of this process and its finished children (wrk runs as one)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def servers_cpu(targets: list[Target]) -> float:
    return sum(process_tree_cpu(t.proc.pid) for t in targets if t.proc is not None)


def pids_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


class Postgres:
    """Databases of our own on the PostgreSQL server (one per target, so that each target's
    counters are its own), and what their backends do."""

    def __init__(self, server_url: str) -> None:
        from sqlalchemy import create_engine, make_url, text
        from sqlalchemy.pool import NullPool

        self._text = text
        self._server = make_url(server_url)
        self._admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool,
                                    connect_args={"connect_timeout": 3})
        with self._admin.connect() as conn:
            conn.execute(text("SELECT 1"))
        self.names: list[str] = []

    def create(self) -> str:
        name = f"cds_bench_{os.getpid()}_{secrets.token_hex(3)}"
        with self._admin.connect() as conn:
            conn.execute(self._text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return self._server.set(database=name).render_as_string(False)

    def backend_cpu(self, url: str) -> float:
        """CPU seconds so far of the PostgreSQL backends connected to this database."""
        with self._admin.connect() as conn:
            pids = list(conn.execute(self._text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :d"
            ), {"d": url.rsplit("/", 1)[1]}).scalars())
        return pids_cpu(pids)

    def writes(self, url: str) -> tuple[int, int]:
        """(transactions committed, audit rows) in this database. The count of commits is
        exact once its backends have exited (PostgreSQL publishes a live backend's counters
        with a delay); rows are counted in the table (pg_stat_database's tup_inserted also
        counts the system catalogue rows the schema's creation wrote)."""
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        with self._admin.connect() as conn:
            commits = conn.execute(self._text(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = :d"
            ), {"d": url.rsplit("/", 1)[1]}).scalar_one()
        engine = create_engine(url, poolclass=NullPool)
        with engine.connect() as conn:
            rows = conn.execute(self._text("SELECT count(*) FROM served_cards")).scalar_one()
        engine.dispose()
        return int(commits), int(rows)

    def drop(self) -> None:
        with self._admin.connect() as conn:
            for name in self.names:
                conn.execute(self._text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@dataclass
class Target:
    database: str  # "SQLite" or "PostgreSQL"
    workers: int
    url: str
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def calls_answered(self) -> int:
        """Every hook call this server answered, from its /metrics (all workers)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("cds_hook_calls_total{")))

    @property
    def label(self) -> str:
        return f"{self.database}, --workers {self.workers}"

    def start(self, work: Path) -> None:
        self.port = loadgen_free_port()
        self.log_path = work / f"{self.database}-{self.workers}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
        # Capacity, as in bench.py: no "stale" shedding of a full closed-loop queue.
        env.update({"CDS_PROFILE": "development", "CDS_AUTH_REQUIRED": "false",
                    "CDS_DATABASE_URL": self.url, "TMPDIR": str(work),
                    "CDS_QUEUE_TIMEOUT_SECONDS": "30"})
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cds_service", "serve", "--port", str(self.port),
                 "--workers", str(self.workers)],
                env=env, cwd=work, stdout=out, stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.log_path is not None
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.label} exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/ready",
                                            timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.label} not ready after {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def loadgen_free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    pg_cpu_ms: float = float("nan")


def measure(target: Target, body: Path, args: argparse.Namespace, pg: Postgres | None,
            seconds: float) -> Run:
    assert target.proc is not None
    runner = loadgen.run_wrk if args.generator == "wrk" else loadgen.run_python
    pg_before = pg.backend_cpu(target.url) if pg else 0.0
    samples: list[tuple[float, float]] = []
    edge = min(1.0, seconds * 0.1)

    def sample() -> None:
        time.sleep(edge)
        samples.append((time.monotonic(), process_tree_cpu(target.proc.pid)))  # type: ignore[union-attr]
        time.sleep(max(0.1, seconds - 2 * edge))
        samples.append((time.monotonic(), process_tree_cpu(target.proc.pid)))  # type: ignore[union-attr]

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = runner(f"http://127.0.0.1:{target.port}{HOOK_PATH}", body,
                    connections=args.connections, seconds=seconds, cpu_prefix=[])
    sampler.join()
    if result.errors or not result.requests:
        raise SystemExit(f"{target.label}: {result.errors} errors in {result.requests} requests")
    (t0, c0), (t1, c1) = samples
    run = Run(result.rps, result.p50_ms, result.p99_ms, (c1 - c0) / (t1 - t0) * 1000 / result.rps)
    if pg:
        time.sleep(1.0)  # the last audit batch of the run is written within 0.5 s
        run.pg_cpu_ms = (pg.backend_cpu(target.url) - pg_before) * 1000 / result.requests
    return run


def replay_insert_ms(url: str, count: int) -> tuple[float, float]:
    """p50 and p99 of one JWT replay insert (the write an authenticated call waits for)."""
    from cds_service.security.replay import ReplayStore
    from cds_service.store.db import open_database

    engine = open_database(url)
    try:
        store = ReplayStore(engine)
        until = datetime.now(UTC) + timedelta(minutes=5)
        for i in range(20):
            store.remember("warm-up", str(i), until)
        times = []
        for i in range(count):
            started = time.perf_counter()
            store.remember("https://ehr.example.org", f"jti-{i}", until)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        engine.dispose()
    times.sort()
    return statistics.median(times), loadgen.percentile(times, 99)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    p.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 10)))
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--size", type=int, default=100, help="Observations in the request")
    p.add_argument("--replay-inserts", type=int, default=500)
    p.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    args, _ignored = p.parse_known_args(argv)  # bench/run passes bench.py's options too
    if args.generator == "auto":
        args.generator = "wrk" if shutil.which("wrk") else "python"
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if os.geteuid() == 0:
        os.nice(-10)  # as bench.py: servers and load generator inherit it (not PostgreSQL)
    work = Path(tempfile.mkdtemp(prefix="cds-bench-workers-"))
    body = work / "request.json"
    body.write_bytes(payloads.dumps(payloads.with_observations(payloads.load(), args.size)))
    pg: Postgres | None = None
    notes: list[str] = []
    try:
        pg = Postgres(os.environ.get("BENCH_POSTGRES_URL") or DEFAULT_POSTGRES)
    except Exception as exc:  # no server, no driver: measure SQLite alone, and say why
        notes.append(f"PostgreSQL skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    targets = [Target("SQLite", n, f"sqlite:///{work}/bench-{n}.db") for n in (1, 2)]
    if pg:
        targets += [Target("PostgreSQL", n, pg.create()) for n in (1, 2)]
    runs: dict[str, list[Run]] = {t.label: [] for t in targets}
    writes: dict[str, tuple[float, float]] = {}
    try:
        for target in targets:
            target.start(work)
        for target in targets:
            target.wait_ready()
        log(f"generator {args.generator}, {args.connections} connections, {args.size} Observations;"
            f" servers: " + ", ".join(f"{t.label} :{t.port}" for t in targets))
        for target in targets:  # warm-up
            measure(target, body, args, None, 2.0)
        busy0, ours0, wall0 = busy_cpu_seconds(), servers_cpu(targets), time.monotonic()
        harness0 = harness_cpu()
        for rnd in range(1, args.rounds + 1):
            order = targets if rnd % 2 else list(reversed(targets))
            for target in order:
                run = measure(target, body, args, pg if target.database == "PostgreSQL" else None,
                              args.duration)
                runs[target.label].append(run)
                log(f"round {rnd} {target.label:26} {run.rps:6.0f} req/s p50 {run.p50_ms:6.1f} "
                    f"p99 {run.p99_ms:6.1f} ms cpu {run.cpu_ms:5.2f} ms/call")
        wall = time.monotonic() - wall0
        busy = (busy_cpu_seconds() - busy0) / wall
        ours = (servers_cpu(targets) - ours0) / wall
        generator = (harness_cpu() - harness0) / wall
        notes.append(f"during the measured rounds the machine's CPUs were busy {busy:.2f} of "
                     f"{os.cpu_count()}: our servers {ours:.2f}, the load generator and this "
                     f"harness {generator:.2f}, PostgreSQL and other tenants "
                     f"{max(busy - ours - generator, 0):.2f}")
        answered = {t.label: t.calls_answered() for t in targets}
    finally:
        for target in targets:
            target.stop()  # SIGTERM: the last audit batch is written, the backends exit
    replay = {"SQLite": replay_insert_ms(f"sqlite:///{work}/replay.db", args.replay_inserts)}
    if pg:
        time.sleep(1.0)
        for target in targets:
            if target.database == "PostgreSQL":
                commits, rows = pg.writes(target.url)
                calls = answered[target.label]
                writes[target.label] = (commits / calls, rows / calls)
        replay["PostgreSQL"] = replay_insert_ms(pg.create(), args.replay_inserts)
        pg.drop()
    print()
    print(report(targets, runs, writes, replay, args, notes))
    shutil.rmtree(work, ignore_errors=True)
    return 0


def report(targets: list[Target], runs: dict[str, list[Run]],
           writes: dict[str, tuple[float, float]], replay: dict[str, tuple[float, float]],
           args: argparse.Namespace, notes: list[str]) -> str:
    def med(label: str, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in runs[label])

    lines = [
        f"## --workers 1 vs 2 ({args.size} Observations, {args.connections} connections, "
        f"{args.generator}, medians of {args.rounds} rounds x {args.duration:g} s)",
        "",
        "| Database | Workers | req/s | p50 ms | p99 ms | CPU ms/call (all processes) | "
        "2 workers / 1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in targets:
        one = f"{t.database}, --workers 1"
        ratio = med(t.label, "rps") / med(one, "rps") if t.workers == 2 else None
        lines.append(
            f"| {t.database} | {t.workers} | {med(t.label, 'rps'):,.0f} | "
            f"{med(t.label, 'p50_ms'):.0f} | {med(t.label, 'p99_ms'):.0f} | "
            f"{med(t.label, 'cpu_ms'):.2f} | {f'{ratio:.2f}x' if ratio else ''} |"
        )
    if writes:
        lines += ["", "PostgreSQL per hook call (the served-card audit, written in batches; "
                  "authentication off, so no JWT replay insert):", ""]
        for label, (commits, rows) in writes.items():
            lines.append(
                f"- {label}: {commits:.3f} transactions, {rows:.2f} audit rows, "
                f"{med(label, 'pg_cpu_ms'):.3f} ms of PostgreSQL backend CPU"
            )
    lines += ["", "JWT replay insert (one per authenticated call, on its path; "
              f"{args.replay_inserts} sequential inserts in-process):", ""]
    for database, (p50, p99) in replay.items():
        lines.append(f"- {database}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    lines += [""] + [f"Note: {note}" for note in notes]
    lines.append(f"Run on {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs, machine shared; "
                 "the load generator runs on the same cores as the servers.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
