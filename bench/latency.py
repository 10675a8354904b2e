"""Event latency: from a commercetools change or a storefront event to the sandbox accepting it.

Starts the commercetools emulator, the Ometria sandbox, the storefront collector and the Dagster
daemon (which evaluates the event sensors and launches their runs, as in production), all on
127.0.0.1 under a temporary DAGSTER_HOME. Then, for ``--minutes``, it makes a change every few
seconds, alternating a customer edit (a commercetools Message, then a contact push) and a storefront
event (the collector's inbox, then a custom-event push), and notes when it made it. The latency of a
change is the moment the sandbox received the push that carried it (its request log) minus the
moment it was made. Prints p50, p95 and max per path.

    .venv/bin/python bench/latency.py                 # the default sensor interval (30 s), 5 minutes
    .venv/bin/python bench/latency.py --interval 10   # CT_OMETRIA_EVENTS_INTERVAL_SECONDS=10
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ct_ometria.local.emulator import start_emulator  # noqa: E402
from ct_ometria.local.process import LocalServer  # noqa: E402
from ct_ometria.settings import DEFAULT_EVENTS_INTERVAL  # noqa: E402

SANDBOX_READY = re.compile(r"ometria sandbox on (http://127\.0\.0\.1:\d+) pid=(\d+)")
COLLECTOR_READY = re.compile(r"ct-ometria collector on (http://127\.0\.0\.1:\d+) pid=(\d+)")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def received(sandbox: str, key: str) -> list[tuple[float, str, list[str]]]:
    log = httpx.get(f"{sandbox}/__sandbox/requests", headers={"X-Ometria-Auth": key}, timeout=10).json()
    return [(dt.datetime.fromisoformat(r["received_at"].replace("Z", "+00:00")).timestamp(), r["type"], r["record_ids"])
            for r in log if r["status"] == 202]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--interval", type=int, default=None, help=f"sensor interval in seconds (default {DEFAULT_EVENTS_INTERVAL})")
    parser.add_argument("--gap", type=float, default=6.0, help="mean seconds between changes")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    interval = args.interval or DEFAULT_EVENTS_INTERVAL

    home = Path(tempfile.mkdtemp(prefix="ct-ometria-latency-"))
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    api_key, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    emulator = start_emulator()
    env = {**os.environ, **emulator.env(), "DAGSTER_HOME": str(home), "OMETRIA_API_KEY": api_key,
           "CT_OMETRIA_DATABASE_URL": f"sqlite:///{home / 'ledger.db'}", "CT_OMETRIA_COLLECTOR_SECRET": secret,
           "CT_OMETRIA_EVENTS_INTERVAL_SECONDS": str(interval), "BENCH_SANDBOX_KEY": api_key}  # fmt: skip
    env.pop("CT_OMETRIA_CONFIG", None)
    started: list = []
    daemon = None
    try:
        sandbox = LocalServer([sys.executable, "-m", "ct_ometria.cli", "sandbox", "--port", "0", "--api-key-env",
                               "BENCH_SANDBOX_KEY"], SANDBOX_READY, env=env)  # fmt: skip
        started.append(sandbox)
        sandbox_url = sandbox.ready.group(1)
        env["OMETRIA_API_URL"] = sandbox_url
        collector = LocalServer([sys.executable, "-m", "ct_ometria.cli", "collector", "--port", "0"], COLLECTOR_READY, env=env)
        started.append(collector)
        collector_url = collector.ready.group(1)
        time.sleep(1.0)

        people = [emulator.create("customers", {"email": f"shopper{i}@example.com", "firstName": "S"}) for i in range(5)]
        # The daemon evaluates the sensors every `interval` seconds and launches their runs.
        daemon = subprocess.Popen([str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        print(f"interval {interval} s; waiting for the first sync of {len(people)} customers ...", flush=True)
        deadline = time.monotonic() + 4 * interval + 120
        while not all(any(p["id"] in ids for _, kind, ids in received(sandbox_url, api_key) if kind == "contact") for p in people):
            if time.monotonic() > deadline:
                raise RuntimeError("the customers never reached the sandbox: is the daemon running the sensors?")
            time.sleep(1.0)

        changes: list[tuple[str, str, float]] = []  # (path, record id, made at)
        end = time.monotonic() + args.minutes * 60
        number = 0
        rng = random.Random(7)
        while time.monotonic() < end:
            number += 1
            if number % 2:
                person = people[number % len(people)]
                made = time.time()
                emulator.update("customers", person["id"], {"action": "setFirstName", "firstName": f"S{number}"})
                changes.append(("message", person["id"], made))
            else:
                event_id = f"bench-{number}"
                made = time.time()
                response = httpx.post(f"{collector_url}/events", headers={"X-Collector-Secret": secret}, timeout=10, json={
                    "event_id": event_id, "type": "product_viewed", "email": "viewer@example.com",
                    "properties": {"product_id": "shirt"}})  # fmt: skip
                response.raise_for_status()
                changes.append(("storefront", f"sf-{event_id}", made))
            time.sleep(rng.uniform(0.2, 1.8) * args.gap)

        latencies: dict[str, list[float]] = {"message": [], "storefront": []}
        waiting = list(changes)
        deadline = time.monotonic() + 3 * interval + 120
        while waiting and time.monotonic() < deadline:
            log = received(sandbox_url, api_key)
            still = []
            for path, record_id, made in waiting:
                kind = "contact" if path == "message" else "custom_event"
                arrivals = [at for at, t, ids in log if t == kind and record_id in ids and at >= made - 0.05]
                if arrivals:
                    latencies[path].append(min(arrivals) - made)
                else:
                    still.append((path, record_id, made))
            waiting = still
            time.sleep(1.0)

        figures = {"interval_seconds": interval, "changes": len(changes), "never_arrived": len(waiting)}
        print(f"\n{len(changes)} changes over {args.minutes} min, sensor interval {interval} s; never arrived: {len(waiting)}")
        every = [v for values in latencies.values() for v in values]
        for path, values in (*latencies.items(), ("all", every)):
            if not values:
                continue
            row = {"n": len(values), "p50": round(statistics.median(values), 2), "p95": round(percentile(values, 0.95), 2),
                   "max": round(max(values), 2)}  # fmt: skip
            figures[path] = row
            print(f"{path:>10}: n={row['n']:3d}  p50 {row['p50']:6.2f} s  p95 {row['p95']:6.2f} s  max {row['max']:6.2f} s")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        return 0 if not waiting else 1
    finally:
        if daemon is not None and daemon.poll() is None:
            os.kill(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(daemon.pid, signal.SIGKILL)
        for server in reversed(started):
            server.stop()
        emulator.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
