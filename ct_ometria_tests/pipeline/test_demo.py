"""``ct-ometria demo``: headless it syncs the demo store and exits; with the UI it serves Dagster, runs
the backfill it launched, and Ctrl-C stops everything it started."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx

BACKFILLS = """{ partitionBackfillsOrError { ... on PartitionBackfills { results { id status numPartitions } } }
  runsOrError { ... on Runs { results { status tags { key value } } } } }"""


def demo_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(("CTP_", "OMETRIA_", "CT_OMETRIA_", "DAGSTER_"))}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def headless_demo(cwd) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run([sys.executable, "-m", "ct_ometria.cli", "demo", "--headless", "--customers", "60", "--days", "2"],
                          cwd=cwd, env=demo_env(), capture_output=True, text=True, timeout=300)  # fmt: skip


def test_the_headless_demo_syncs_the_whole_store_and_exits(tmp_path):
    done = headless_demo(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "60 customers (2 with a malformed email), 120 orders in GBP and EUR, 12 products in en-GB and nl-NL" in done.stdout
    assert "ct_customers             read=60  valid=58  invalid=2" in done.stdout
    assert "email_opted_in=24  email_opted_out=12" in done.stdout
    # Every valid record arrived: 58 contacts, 120 orders (guests, refunds and cancellations among them),
    # 12 products with three variants each.
    assert "the sandbox now holds 58 contacts, 120 orders and 48 products" in done.stdout
    assert (tmp_path / ".dagster_home" / "dagster.yaml").exists()
    emulator_pid = int(re.search(r"\(pid (\d+)\)", done.stdout).group(1))
    assert not alive(emulator_pid)
    # Again in the same folder: a new sandbox, so everything is sent again (the demo's ledger is new too).
    again = headless_demo(tmp_path)
    assert again.returncode == 0 and "the sandbox now holds 58 contacts, 120 orders and 48 products" in again.stdout


def test_the_demo_refuses_a_port_in_use_and_a_store_too_small(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "ct_ometria.cli", "demo", "--port", str(port)], cwd=tmp_path,
                              env=demo_env(), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and f"127.0.0.1:{port} is in use" in done.stderr
    done = subprocess.run([sys.executable, "-m", "ct_ometria.cli", "demo", "--headless", "--customers", "3"], cwd=tmp_path,
                          env=demo_env(), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "--customers of at least 10" in done.stderr


def test_the_demo_serves_dagster_runs_its_backfill_and_stops_everything_on_ctrl_c(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "ct_ometria.cli", "demo", "--customers", "40", "--days", "2",
                                "--port", str(port)], cwd=tmp_path, env=demo_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        statuses: list[str] = []
        while statuses != ["SUCCESS"]:
            assert process.poll() is None, "".join(lines[-40:])
            assert time.monotonic() < deadline, f"run statuses {statuses}:\n" + "".join(lines[-40:])
            time.sleep(1)
            if not any("launched for" in line for line in lines):
                continue
            answer = httpx.post(f"{base}/graphql", json={"query": BACKFILLS}, timeout=30).json()
            [backfill] = answer["data"]["partitionBackfillsOrError"]["results"]
            assert backfill["numPartitions"] == 2 and backfill["status"] in ("REQUESTED", "COMPLETED_SUCCESS"), backfill
            runs = answer["data"]["runsOrError"]["results"]
            # The backfill's one run (the demo's days fit in one run of sync.days_per_run).
            assert all({"key": "dagster/backfill", "value": backfill["id"]} in run["tags"] for run in runs), runs
            statuses = [run["status"] for run in runs]
            assert "FAILURE" not in statuses, statuses
        output = "".join(lines)
        emulator_pid = int(re.search(r"emulator on \S+ \(pid (\d+)\)", output).group(1))
        dagster_pid = int(re.search(r"dagster dev pid (\d+)", output).group(1))
        assert f"Dagster UI on {base}" in output
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        process.wait(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        for line in lines:  # dagster dev has a process group of its own
            found = re.search(r"dagster dev pid (\d+)", line)
            if found:
                try:
                    os.killpg(int(found.group(1)), signal.SIGKILL)
                except ProcessLookupError:
                    pass
    assert "the sandbox now holds 38 contacts, 80 orders and 48 products" in "".join(lines)
    assert not alive(emulator_pid) and not alive(dagster_pid)
    try:
        os.killpg(dagster_pid, 0)
        left = True
    except ProcessLookupError:
        left = False
    assert not left, "a process of dagster dev's group outlived the demo"
