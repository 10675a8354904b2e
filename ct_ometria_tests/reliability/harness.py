"""What every fault scenario shares: the store, the proxies, a sync through them, and what Ometria holds.

A scenario seeds the store as it was, runs ``ct-ometria sync`` with faults injected, checks that the
run's status tells the truth, stops the faults, changes 2% of the store, reruns, and compares what the
sandbox holds with what a fault-free run of the same sequence left there.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from dagster import DagsterInstance, DagsterRunStatus

from bench.store import Store
from ct_ometria.ledger import Ledger
from ct_ometria.local.process import LocalServer
from ct_ometria.local.sample import customer_document

ROOT = Path(__file__).resolve().parents[2]
END = dt.date(2024, 5, 4)
DAYS = 4
FIRST, LAST = (END - dt.timedelta(days=DAYS)).isoformat(), (END - dt.timedelta(days=1)).isoformat()
ORDERS = 1500
CHANGED_AT = dt.datetime.combine(END - dt.timedelta(days=1), dt.time(18), dt.timezone.utc)
RECORD_TYPES = ("contact", "order", "product")
# Bad at the source: parked with their reason by every run, faults or not.
BROKEN_CUSTOMERS = {"broken-1": "shopper.at.example.com", "broken-2": "two@@example.com"}


def store(changed: bool = False) -> Store:
    return Store(ORDERS, DAYS, end=END, changed_share=0.02 if changed else 0.0, changed_at=CHANGED_AT if changed else None)


def documents(changed: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Every document of the store; changed: only those the 2% change touched, at their new version."""
    source = store(changed)
    result: dict[str, list[dict[str, Any]]] = {}
    for kind in ("category", "product", "customer", "order"):
        indexes = source.changed(kind) if changed else range(source.counts[kind])
        result[kind] = [source.document(kind, index) for index in indexes]
    if not changed:
        at = dt.datetime.combine(END - dt.timedelta(days=2), dt.time(9), dt.timezone.utc)
        result["customer"] += [customer_document(doc_id, email, at) for doc_id, email in BROKEN_CUSTOMERS.items()]
        result["store"] = source.stores()
    return result


class Proxy:
    """``proxy.py`` in its own process, in front of ``upstream``."""

    READY = re.compile(r"fault proxy on (http://127\.0\.0\.1:\d+)")

    def __init__(self, upstream: str, *, rate: float, kinds: str, seed: int, prefixes: tuple[str, ...] = ()):
        args = [sys.executable, "-m", "ct_ometria_tests.reliability.proxy", "--upstream", upstream,
                "--rate", str(rate), "--kinds", kinds, "--seed", str(seed), "--hold-seconds", "3",
                "--slow-seconds", "0.5"]  # fmt: skip
        for prefix in prefixes:
            args += ["--prefix", prefix]
        self.server = LocalServer(args, self.READY, cwd=ROOT)
        self.url = self.server.ready.group(1)

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/__proxy/stats", timeout=10).json()

    def stop_faults(self) -> None:
        httpx.post(f"{self.url}/__proxy/faults", json={"rate": 0}, timeout=10).raise_for_status()

    def stop(self) -> None:
        self.server.stop()


def sync(env: dict[str, str], *extra: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ct_ometria.cli", "sync", "--start", FIRST, "--end", LAST, *extra],
                          env=env, capture_output=True, text=True, timeout=timeout)  # fmt: skip


def start_sync(env: dict[str, str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ct_ometria.cli", "sync", "--start", FIRST, "--end", LAST, *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def run_statuses(env: dict[str, str]) -> list[DagsterRunStatus]:
    """The statuses of every run in the instance, oldest first."""
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        return [record.dagster_run.status for record in reversed(instance.get_run_records())]


def held(sandbox) -> dict[tuple[str, str], dict[str, Any]]:  # noqa: ANN001
    """What Ometria holds: every stored record by type and id."""
    return {(record_type, record["id"]): record for record_type in RECORD_TYPES for record in sandbox.records(record_type)}


def repeated(sandbox) -> int:  # noqa: ANN001
    """Records Ometria applied again with nothing new: the side effects of sending a record twice."""
    return sandbox.get("stats")["repeated"]


def open_letters(env: dict[str, str]) -> list[dict[str, Any]]:
    return Ledger(env["CT_OMETRIA_DATABASE_URL"], env["CT_OMETRIA_DATABASE_SCHEMA"]).dead_letters()


@dataclass
class Truth:
    """What a fault-free run of the same sequence leaves behind: after the first sync (``before``) and
    after the change and the rerun (``records``)."""

    before: dict[tuple[str, str], dict[str, Any]]
    records: dict[tuple[str, str], dict[str, Any]]
    repeated: int
    parked: set[tuple[str, str]]


@dataclass
class Row:
    scenario: str
    faults: Counter = field(default_factory=Counter)
    records: int = 0
    lost: int = 0
    stale: int = 0
    parked: int = 0
    duplicates: int = 0
    first_run: str = ""
    rerun: str = ""
    first_output: str = field(default="", repr=False)  # not reported

    def as_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "faults": dict(self.faults), "faults_total": sum(self.faults.values()),
                "records": self.records, "lost": self.lost, "stale": self.stale, "parked": self.parked,
                "duplicates": self.duplicates, "first_run": self.first_run, "rerun": self.rerun}  # fmt: skip


def seed_changes(emulator) -> None:  # noqa: ANN001
    emulator.seed(**documents(changed=True))


def faults_of(proxy_stats: dict[str, Any], prefix: str) -> Counter:
    return Counter({f"{prefix} {kind}": count for kind, count in proxy_stats.items()
                    if kind not in ("rate", "requests", "faults") and count})  # fmt: skip


def environment(base: dict[str, str], *, ct_url: str | None = None, ometria_url: str | None = None) -> dict[str, str]:
    env = dict(base)
    if ct_url:
        env["CTP_API_URL"] = ct_url
        env["CTP_AUTH_URL"] = ct_url
    if ometria_url:
        env["OMETRIA_API_URL"] = ometria_url
    return env


def clean_environ() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(("CTP_", "OMETRIA_", "CT_OMETRIA_"))}


@dataclass
class Scenario:
    """One fault scenario: where faults go, and what happens while the first run runs."""

    name: str
    ct_faults: str = ""  # proxy kinds in front of commercetools
    ometria_faults: str = ""  # proxy kinds in front of Ometria
    chaos: dict[str, float] = field(default_factory=dict)  # the sandbox's rejections and asynchronous errors
    rate: float = 0.1
    seed: int = 11
    days_per_run: int | None = None


def play(scenario: Scenario, truth: Truth, emulator, sandbox, env: dict[str, str], during=None) -> Row:  # noqa: ANN001
    """Run ``scenario``'s first sync with its faults, check what its status says, stop the faults, change
    2% of the store, rerun, and compare with ``truth``. ``during(process)`` acts on a running first sync."""
    row = Row(scenario.name, records=len(truth.records))
    proxies: list[tuple[str, Proxy]] = []
    extra = ("--days-per-run", str(scenario.days_per_run)) if scenario.days_per_run else ()
    try:
        first_env = env
        if scenario.ct_faults:
            proxies.append(("commercetools", Proxy(emulator.base_url, rate=scenario.rate, kinds=scenario.ct_faults,
                                                   seed=scenario.seed)))  # fmt: skip
            first_env = environment(first_env, ct_url=proxies[-1][1].url)
        if scenario.ometria_faults:
            proxies.append(("Ometria", Proxy(sandbox.base_url, rate=scenario.rate, kinds=scenario.ometria_faults,
                                             seed=scenario.seed + 1, prefixes=("/v2/",))))  # fmt: skip
            first_env = environment(first_env, ometria_url=proxies[-1][1].url)
        if scenario.chaos:
            sandbox.post("faults", {**scenario.chaos, "seed": scenario.seed})
        if during is None:
            first = sync(first_env, *extra)
            returncode, output = first.returncode, first.stdout + first.stderr
        else:
            process = start_sync(first_env, *extra)
            try:
                row.faults.update(during(process))
                output = process.communicate(timeout=600)[0]
            finally:
                if process.poll() is None:
                    process.kill()
            returncode = process.returncode
        for label, proxy in proxies:
            row.faults.update(faults_of(proxy.stats(), label))
            proxy.stop_faults()
        if scenario.chaos:
            injected = sandbox.get("stats")["injected"]
            row.faults.update({"Ometria rejected on arrival": injected["rejected"],
                               "Ometria asynchronous error": injected["async_errors"]})  # fmt: skip
            sandbox.post("faults", {"reject_rate": 0, "async_error_rate": 0})
        row.faults = Counter({kind: count for kind, count in row.faults.items() if count})
        statuses = run_statuses(env)
        row.first_run = _verdict(returncode, statuses)
        row.first_output = output
        check_first_run(returncode, output, statuses, truth, sandbox, env)

        seed_changes(emulator)
        before_rerun = len(statuses)
        rerun = sync(env, *extra)
        assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
        statuses = run_statuses(env)
        row.rerun = _verdict(rerun.returncode, statuses[before_rerun:])
        # Every run of the first attempt now says how it ended: a killed one is marked failed, none is left "started".
        assert all(status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE) for status in statuses), statuses
        assert all(status == DagsterRunStatus.SUCCESS for status in statuses[before_rerun:]), statuses
    finally:
        for _, proxy in proxies:
            proxy.stop()
        sandbox.post("faults", {"reject_rate": 0, "async_error_rate": 0, "latency_seconds": 0})

    now = held(sandbox)
    row.lost = len(set(truth.records) - set(now))
    row.stale = sum(1 for key, record in truth.records.items() if key in now and now[key] != record)
    unexpected = set(now) - set(truth.records)
    letters = open_letters(env)
    row.parked = len(letters)
    row.duplicates = repeated(sandbox) - truth.repeated
    assert row.lost == 0 and row.stale == 0 and not unexpected, (row.lost, row.stale, sorted(unexpected)[:5])
    # What is still parked is exactly what is bad at the source, each with the field and the reason.
    assert {(letter["record_type"], letter["record_id"]) for letter in letters} == truth.parked, \
        [(letter["record_type"], letter["record_id"], letter["stage"], letter["reason"]) for letter in letters][:8]
    assert all(letter["reason"].startswith("email: ") for letter in letters), [letter["reason"] for letter in letters]
    return row


def check_first_run(returncode: int, output: str, statuses: list, truth: Truth, sandbox, env: dict[str, str]) -> None:  # noqa: ANN001
    """The first run's word is true: a success delivered or parked every record; a failure says so."""
    if returncode == 0:
        assert statuses and all(status == DagsterRunStatus.SUCCESS for status in statuses), statuses
        now = held(sandbox)
        parked = {(letter["record_type"], letter["record_id"]): letter["reason"] for letter in open_letters(env)}
        silent = [key for key, record in truth.before.items() if now.get(key) != record and key not in parked]
        assert not silent, f"a successful run left {len(silent)} records neither delivered nor parked: {silent[:5]}"
    else:
        # A run that did not finish its work never claims it did.
        assert any(status != DagsterRunStatus.SUCCESS for status in statuses), (statuses, output[-2000:])


def _verdict(returncode: int, statuses: list) -> str:
    counts = Counter(status.value.lower() for status in statuses)
    return f"exit {returncode}; runs " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
