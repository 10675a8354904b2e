"""What the benchmark scripts share: the servers they start and the sync they time."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ct_ometria.local.process import LocalServer  # noqa: E402
from ct_ometria.settings import push_rate_margin  # noqa: E402

CT_READY = re.compile(r"bench commercetools on (http://127\.0\.0\.1:\d+) pid=(\d+)")
SANDBOX_READY = re.compile(r"ometria sandbox on (http://127\.0\.0\.1:\d+) pid=(\d+)")
CEILING = 800.0  # Ometria: 8 pushes per second of at most 100 records


@dataclass
class Bench:
    ct_url: str
    sandbox_url: str
    api_key: str
    home: Path
    env: dict[str, str]
    server_pids: dict[str, int]

    def server_cpu_seconds(self) -> dict[str, float]:
        """CPU seconds each server has used so far (user + system, from /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        found = {}
        for name, pid in self.server_pids.items():
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            found[name] = round((int(fields[11]) + int(fields[12])) / ticks, 1)
        return found

    def sandbox(self, path: str) -> Any:
        response = httpx.get(f"{self.sandbox_url}/__sandbox/{path}", headers={"X-Ometria-Auth": self.api_key}, timeout=120)
        response.raise_for_status()
        return response.json()

    def change(self, share: float, at: dt.datetime) -> dict[str, Any]:
        return httpx.post(f"{self.ct_url}/__bench/change", json={"share": share, "at": at.isoformat()}, timeout=30).json()


POSTGRES_URL = os.environ.get("CT_OMETRIA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def servers(orders: int, days: int, latency_ms: int = 50, postgres: bool = False, ometria_pool: int | None = None) -> Any:
    """The streaming commercetools server and the rate-limited sandbox, under a fresh DAGSTER_HOME
    (SQLite, or with ``postgres`` the PostgreSQL instance and a ledger schema of its own).
    ``ometria_pool``: that many push steps at once across runs (the instance's `ometria` pool limit,
    restored afterwards: the PostgreSQL instance is shared)."""
    home = Path(tempfile.mkdtemp(prefix="ct-ometria-bench-"))
    shutil.copy(ROOT / ("deploy/dagster.postgres.yaml" if postgres else "dagster.yaml"), home / "dagster.yaml")
    schema = f"bench_{secrets.token_hex(4)}"
    api_key = secrets.token_urlsafe(16)
    started = []
    # A bench stopped with SIGTERM (kill, a CI timeout) still stops its servers, drops its ledger
    # schema and gives the shared instance its pool limit back.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        ct = LocalServer([sys.executable, str(ROOT / "bench" / "ctserver.py"), "--orders", str(orders), "--days", str(days)],
                         CT_READY, cwd=ROOT, timeout=60)  # fmt: skip
        started.append(ct)
        sandbox = LocalServer([sys.executable, "-m", "ct_ometria.cli", "sandbox", "--port", "0", "--api-key-env",
                               "BENCH_SANDBOX_KEY", "--latency-ms", str(latency_ms)], SANDBOX_READY, cwd=ROOT,
                              env={**os.environ, "BENCH_SANDBOX_KEY": api_key}, timeout=60)  # fmt: skip
        started.append(sandbox)
        ct_url, sandbox_url = ct.ready.group(1), sandbox.ready.group(1)
        for server in started:
            # The two servers stand in for remote APIs that do not share the sync's CPU. On a
            # small machine they would otherwise wait for it, and the sandbox would stamp requests
            # late, in bunches, and count rate-limit breaches the sender never committed.
            _raise_priority(server.pid)
        env = {**os.environ, "DAGSTER_HOME": str(home), "CTP_PROJECT_KEY": "bench", "CTP_CLIENT_ID": "bench",
               "CTP_CLIENT_SECRET": "bench-secret", "CTP_AUTH_URL": ct_url, "CTP_API_URL": ct_url,
               "OMETRIA_API_KEY": api_key, "OMETRIA_API_URL": sandbox_url,
               "CT_OMETRIA_DATABASE_URL": f"sqlite:///{home / 'ledger.db'}"}  # fmt: skip
        env.pop("CT_OMETRIA_CONFIG", None)
        if postgres:
            env.update({"CT_OMETRIA_DAGSTER_PG_URL": POSTGRES_URL, "CT_OMETRIA_DATABASE_URL": POSTGRES_URL,
                        "CT_OMETRIA_DATABASE_SCHEMA": schema})  # fmt: skip
        for url in (f"{ct_url}/__bench/stats", f"{sandbox_url}/__sandbox/stats"):
            _wait(url, {"X-Ometria-Auth": api_key})
        with _pool_limit(env, "ometria", ometria_pool):
            yield Bench(ct_url, sandbox_url, api_key, home, env, {"commercetools": ct.pid, "sandbox": sandbox.pid})
    finally:
        signal.signal(signal.SIGTERM, previous)
        for server in reversed(started):
            server.stop()
        shutil.rmtree(home, ignore_errors=True)
        if postgres:
            from sqlalchemy import create_engine, text

            with create_engine(POSTGRES_URL).begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


_POOL = """
import sys
from dagster import DagsterInstance
pool, limit = sys.argv[1], sys.argv[2]
with DagsterInstance.get() as instance:
    storage = instance.event_log_storage
    info = storage.get_concurrency_info(pool) if pool in storage.get_concurrency_keys() else None
    # A pool on the instance's default limit goes back to the default, not to a pinned copy of it.
    print(info.slot_count if info is not None and not info.using_default_limit else "")
    if limit == "":
        storage.delete_concurrency_limit(pool)
    else:
        storage.set_concurrency_slots(pool, int(limit))
"""


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _raise_priority(pid: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, pid, -5)
    except PermissionError:
        print(f"could not raise the priority of the server {pid} (not root); arrival times may bunch", file=sys.stderr)


@contextmanager
def _pool_limit(env: dict[str, str], pool: str, limit: int | None) -> Any:
    if limit is None:
        yield
        return
    command = [sys.executable, "-c", _POOL, pool]
    before = subprocess.run([*command, str(limit)], env=env, capture_output=True, text=True, check=True).stdout.strip()
    try:
        yield
    finally:
        subprocess.run([*command, before], env=env, capture_output=True, check=True)


def _wait(url: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, headers=headers, timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass
class Timed:
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str
    cpu_seconds: float = 0.0
    started_at: float = 0.0  # wall clock (time.time()) when the sync process was started


def report(figures: dict[str, Any], json_path: Path | None) -> None:
    """Print ``figures`` one a line, and write them as JSON to ``json_path`` when given."""
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:>{width}}: {value}")
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2))


def add_margin_option(parser: Any) -> None:
    parser.add_argument("--push-rate-margin", type=float, default=None,
                        help="OMETRIA_PUSH_RATE_MARGIN for every process: the shared bucket's window is 1 + margin seconds "
                             "(default 0.10)")  # fmt: skip


def apply_margin(bench: Bench, margin: float | None) -> float:
    """Give the bench's processes ``margin`` (when set); the margin they use."""
    if margin is not None:
        bench.env["OMETRIA_PUSH_RATE_MARGIN"] = str(margin)
    return push_rate_margin(bench.env)


def timed_sync(bench: Bench, start: dt.date, end: dt.date, *extra: str) -> Timed:
    """``ct-ometria sync`` over [start, end] as its own process: wall time and its peak memory."""
    began, started_at = time.monotonic(), time.time()
    process = subprocess.Popen([sys.executable, "-m", "ct_ometria.cli", "sync", "--start", start.isoformat(),
                                "--end", end.isoformat(), *extra], cwd=ROOT, env=bench.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)  # fmt: skip
    assert process.stdout is not None
    try:
        output = process.stdout.read()
    except BaseException:
        # The bench is stopping: its sync (and the runs --workers started) must not outlive the servers.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    # wait4, not wait: the child's own peak resident memory (ru_maxrss, in KiB on Linux).
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    # ru_utime/ru_stime cover the child and the processes it waited for (--workers' runs).
    return Timed(time.monotonic() - began, usage.ru_maxrss / 1024, process.returncode, output,
                 round(usage.ru_utime + usage.ru_stime, 1), started_at)


def pushes(bench: Bench) -> list[dict[str, Any]]:
    return [r for r in bench.sandbox("requests") if r["status"] == 202]


def _arrival(request: dict[str, Any]) -> float:
    """When the sandbox received ``request`` (its ``received_at``), in POSIX seconds."""
    return dt.datetime.fromisoformat(request["received_at"].replace("Z", "+00:00")).timestamp()


def received(requests: list[dict[str, Any]]) -> list[float]:
    """When the sandbox received each request, as sorted POSIX seconds."""
    return sorted(_arrival(r) for r in requests)


def idle_spans(requests: list[dict[str, Any]], began: float, ended: float, longer_than: float = 1.0) -> list[tuple[float, float]]:
    """The spans of a sync (wall clock ``began`` to ``ended``) longer than ``longer_than`` seconds in
    which the sandbox received no push, as (seconds after ``began``, length): where the end-to-end
    throughput went."""
    edges = [began, *received(requests), ended]
    return [(round(a - began, 1), round(b - a, 1)) for a, b in itertools.pairwise(edges) if b - a > longer_than]


def before_refusals(log: list[dict[str, Any]], limit: int = 3, before: int = 9) -> list[list[tuple[float, int, str, int]]]:
    """For each of the first ``limit`` 429 answers in the sandbox's request ``log``, the ``before``
    requests it received before it and the refused one: (seconds after the first of them, status,
    type, records). Shows whether the ninth came from a late request or a bunch."""
    stamps = [_arrival(r) for r in log]
    order = sorted(range(len(log)), key=stamps.__getitem__)
    found = []
    for position, i in enumerate(order):
        if log[i]["status"] == 429 and len(found) < limit:
            window = order[max(0, position - before): position + 1]
            found.append([(round(stamps[j] - stamps[window[0]], 3), log[j]["status"], log[j]["type"], log[j]["record_count"])
                          for j in window])  # fmt: skip
    return found


def peak_window(requests: list[dict[str, Any]], seconds: float = 1.0) -> int:
    """The most pushes the sandbox received in any window of ``seconds``."""
    stamps = received(requests)
    best, first = 0, 0
    for last, moment in enumerate(stamps):
        while moment - stamps[first] >= seconds:
            first += 1
        best = max(best, last - first + 1)
    return best
