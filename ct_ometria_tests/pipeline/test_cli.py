"""``ct-ometria sync`` end to end: a real Dagster run recorded in a PostgreSQL-backed instance."""

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from ct_ometria.local.sample import customer_document, sample_customers
from ct_ometria_tests.pipeline.conftest import at

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("CT_OMETRIA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def cli_env(emulator, sandbox, tmp_path, monkeypatch, ledger_schema) -> dict[str, str]:
    monkeypatch.setenv("CT_OMETRIA_DAGSTER_PG_URL", POSTGRES_URL)  # for reading the instance back here
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CTP_", "OMETRIA_", "CT_OMETRIA_"))}
    env.update(emulator.env())
    env.update(
        {
            "OMETRIA_API_KEY": sandbox.api_key,
            "OMETRIA_API_URL": sandbox.base_url,
            "DAGSTER_HOME": str(home),
            "CT_OMETRIA_DAGSTER_PG_URL": POSTGRES_URL,
            "CT_OMETRIA_DATA_DIR": str(tmp_path / "data"),
            "CT_OMETRIA_DATABASE_URL": POSTGRES_URL,
            "CT_OMETRIA_DATABASE_SCHEMA": ledger_schema,
        }
    )
    return env


def ct_ometria(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ct_ometria.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_sync_runs_through_dagster_on_postgres_and_prints_a_summary(emulator, sandbox, cli_env):
    emulator.seed(customer=sample_customers(120, dt.date(2024, 5, 1), days=2))
    emulator.seed(customer=[customer_document("outside", "outside@example.com", at("2024-05-03"))])
    done = ct_ometria(cli_env, "sync", "--start", "2024-05-01", "--end", "2024-05-02")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "succeeded" in done.stdout
    assert "ct_customers             read=120  valid=120  invalid=0" in done.stdout
    assert "pushed=120  accepted=120  rejected=0  requests=2" in done.stdout
    assert len(sandbox.records("contact")) == 120
    for secret in (cli_env["CTP_CLIENT_SECRET"], cli_env["OMETRIA_API_KEY"]):
        assert secret not in done.stdout and secret not in done.stderr

    with DagsterInstance.from_config(cli_env["DAGSTER_HOME"]) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        run_id = done.stdout.split()[1]
        run = instance.get_run_by_id(run_id)
        assert run.status == DagsterRunStatus.SUCCESS
        assert run.job_name == "sync_to_ometria"
        assert run.tags["dagster/asset_partition_range_start"] == "2024-05-01"
        assert run.tags["dagster/asset_partition_range_end"] == "2024-05-02"
        materialized = instance.get_materialized_partitions(AssetKey("ometria_contacts_sync"))
        assert {"2024-05-01", "2024-05-02"} <= materialized


def test_missing_variable_is_named_before_any_run_starts(cli_env):
    del cli_env["OMETRIA_API_KEY"]
    done = ct_ometria(cli_env, "sync", "--start", "2024-05-01", "--end", "2024-05-01")
    assert done.returncode == 2
    assert "OMETRIA_API_KEY is not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_wrong_url_is_named_and_the_secret_is_not_printed(cli_env):
    cli_env["CTP_API_URL"] = "not a url"
    done = ct_ometria(cli_env, "sync", "--start", "2024-05-01", "--end", "2024-05-01")
    assert done.returncode == 2
    assert "CTP_API_URL must be an http(s) URL" in done.stderr
    assert cli_env["CTP_CLIENT_SECRET"] not in done.stderr


def test_days_outside_the_partitions_are_refused(cli_env):
    done = ct_ometria(cli_env, "sync", "--start", "2019-12-31", "--end", "2020-01-02")
    assert done.returncode == 2
    assert "days must lie within the partitions 2020-01-01" in done.stderr


def test_a_failed_run_exits_non_zero_and_is_recorded_as_failed(emulator, sandbox, cli_env, tmp_path):
    emulator.seed(customer=[customer_document("c-1", "broken", at("2024-05-01"))])
    config = tmp_path / "mapping.yaml"
    config.write_text(yaml.safe_dump({"sync": {"invalid_records_tolerated": 0, "max_invalid_share": 0}}))
    cli_env["CT_OMETRIA_CONFIG"] = str(config)
    done = ct_ometria(cli_env, "sync", "--start", "2024-05-01", "--end", "2024-05-01")
    assert done.returncode == 1
    assert "FAILED" in done.stdout
    assert re.search(r"check ct_customers:customers_valid\s+FAILED", done.stdout)
    with DagsterInstance.from_config(cli_env["DAGSTER_HOME"]) as instance:
        run = instance.get_run_by_id(done.stdout.split()[1])
        assert run.status == DagsterRunStatus.FAILURE
        assert instance.get_runs(RunsFilter(run_ids=[run.run_id]))
    assert sandbox.requests() == []


def ledger_for(cli_env):
    from ct_ometria.ledger import Ledger

    return Ledger(cli_env["CT_OMETRIA_DATABASE_URL"], cli_env["CT_OMETRIA_DATABASE_SCHEMA"])


def test_dry_run_prints_what_would_be_sent_and_pushes_nothing(emulator, sandbox, cli_env):
    emulator.seed(customer=sample_customers(30, dt.date(2024, 5, 1), days=1))
    done = ct_ometria(cli_env, "sync", "--start", "2024-05-01", "--end", "2024-05-01", "--dry-run")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "dry run ometria_contacts_sync: would send 30 (new 30, changed 0, unchanged 0)" in done.stdout
    assert '"@type":"contact"' in done.stdout and '"email":"***"' in done.stdout
    assert "@example.com" not in done.stdout  # sample payloads are shown with personal fields masked
    assert sandbox.requests() == []
    assert ledger_for(cli_env).pushed() == []


def test_dead_letters_are_listed_and_replayed_once_the_data_is_fixed(emulator, sandbox, cli_env):
    emulator.seed(customer=[customer_document("c-ok", "ok@example.com", at("2024-05-01")),
                            customer_document("c-broken", "broken.example.com", at("2024-05-01"))])  # fmt: skip
    assert ct_ometria(cli_env, "sync", "--start", "2024-05-01", "--end", "2024-05-01").returncode == 0
    listed = ct_ometria(cli_env, "dead-letters", "list")
    assert listed.returncode == 0
    assert "c-broken" in listed.stdout and "email: not a valid email address" in listed.stdout
    assert "broken.example.com" not in listed.stdout  # no payloads: they may hold personal data

    refused = ct_ometria(cli_env, "dead-letters", "replay")
    assert refused.returncode == 2 and "--type T, --id ID" in refused.stderr

    emulator.seed(customer=[customer_document("c-broken", "fixed@example.com", at("2024-05-01", 14), version=2)])
    replayed = ct_ometria(cli_env, "dead-letters", "replay", "--type", "customer")
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    assert "customers_sent=1" in replayed.stdout and "still_open=0" in replayed.stdout
    assert ct_ometria(cli_env, "dead-letters", "list").stdout.strip() == "no dead letters open"
    assert {c["id"]: c["email"] for c in sandbox.records("contact")}["c-broken"] == "fixed@example.com"


def test_a_run_killed_mid_push_is_healed_by_the_next_run(emulator, sandbox, cli_env):
    documents = sample_customers(1000, dt.date(2024, 5, 1), days=1)
    emulator.seed(customer=documents)
    sandbox.post("faults", {"latency_seconds": 0.25})
    process = subprocess.Popen(
        [sys.executable, "-m", "ct_ometria.cli", "sync", "--start", "2024-05-01", "--end", "2024-05-01"],
        env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len([r for r in sandbox.requests() if r["status"] == 202]) < 3:
            assert process.poll() is None, "the sync ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    delivered_before = len(sandbox.records("contact"))
    recorded_before = len(ledger_for(cli_env).pushed("contact"))
    assert 0 < recorded_before <= delivered_before < 1000

    sandbox.post("faults", {"latency_seconds": 0})
    done = ct_ometria(cli_env, "sync", "--start", "2024-05-01", "--end", "2024-05-01")
    assert done.returncode == 0, done.stderr[-3000:]
    contacts = sandbox.records("contact")
    assert len(contacts) == 1000 == len({c["id"] for c in contacts})
    expected = {d["id"]: d["email"].strip().lower() for d in documents}
    assert {c["id"]: c["email"] for c in contacts} == expected
    ledger = ledger_for(cli_env)
    assert {row["record_id"] for row in ledger.pushed("contact")} == set(expected)
    # The second run sent what the first had not recorded, not everything again.
    assert f"pushed={1000 - recorded_before}" in done.stdout


def test_a_range_can_run_as_chunks_of_days_two_at_a_time(emulator, sandbox, cli_env):
    emulator.seed(customer=sample_customers(90, dt.date(2024, 5, 1), days=3))
    done = ct_ometria(cli_env, "sync", "--start", "2024-05-01", "--end", "2024-05-03", "--days-per-run", "1",
                      "--workers", "2")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("succeeded") == 3
    assert len(sandbox.records("contact")) == 90
    # Three parts, two at a time (the third goes to the process that loaded while the first two ran):
    # no process the command started outlives it. How soon the third part started is a benchmark's
    # figure (BENCHMARKS.md), not asserted here.
    assert not _processes_with(f"DAGSTER_HOME={cli_env['DAGSTER_HOME']}")
    assert sandbox.get("stats")["throttled"] == 0
    run_ids = re.findall(r"^run (\S+) succeeded", done.stdout, re.MULTILINE)
    with DagsterInstance.from_config(cli_env["DAGSTER_HOME"]) as instance:
        runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
        ranges = sorted(r.tags["dagster/asset_partition_range_start"] for r in runs)
        assert ranges == ["2024-05-01", "2024-05-02", "2024-05-03"]
        assert all(r.status == DagsterRunStatus.SUCCESS for r in runs)
        # Their pool claims go in the order the parts were given: each later run a step below.
        priorities = {r.tags["dagster/asset_partition_range_start"]: r.tags["dagster/priority"] for r in runs}
        assert priorities == {"2024-05-01": "0", "2024-05-02": "-1", "2024-05-03": "-2"}


def test_a_range_is_cut_into_runs_by_its_documents(emulator, sandbox, cli_env, tmp_path):
    # 40 customers a day for four days, then a quiet day; runs of at most 100 documents.
    emulator.seed(customer=sample_customers(160, dt.date(2024, 5, 1), days=4))
    config = tmp_path / "mapping.yaml"
    config.write_text(yaml.safe_dump({"sync": {"records_per_run": 100}}))
    cli_env["CT_OMETRIA_CONFIG"] = str(config)
    done = ct_ometria(cli_env, "sync", "--start", "2024-05-01", "--end", "2024-05-05", "--workers", "2")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Planned once, by the parent: each child runs its part as one run without counting again (a
    # child's own output, stderr included, reaches the parent's stdout).
    assert (done.stdout + done.stderr).count("run(s) of at most 100 documents") == 1
    assert "counting what 2024-05-01 .. 2024-05-05 holds" in done.stderr
    assert "2 run(s) of at most 100 documents each (2..3 days; 160 documents counted" in done.stderr
    assert len(sandbox.records("contact")) == 160
    run_ids = re.findall(r"^run (\S+) succeeded", done.stdout, re.MULTILINE)
    with DagsterInstance.from_config(cli_env["DAGSTER_HOME"]) as instance:
        runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
        ranges = sorted((r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
                        for r in runs)  # fmt: skip
    # 40 + 40, then 40 + 40 + the quiet day: a third day would have made 120. Two workers start out of
    # step: the first run holds half its part, the other half runs last.
    assert ranges == [("2024-05-01", "2024-05-01"), ("2024-05-02", "2024-05-02"), ("2024-05-03", "2024-05-05")]
    assert "2 workers start out of step: 1 part(s) cut in two, the rest of each synced last (3 runs)" in done.stderr


def test_workers_are_refused_on_sqlite_storage_before_any_run(sandbox, cli_env, tmp_path):
    # SQLite takes one writer at a time: runs started together on it fail at random. Refused up front,
    # naming what to change, for the ledger and for the Dagster instance.
    sqlite_ledger = {**cli_env, "CT_OMETRIA_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}
    done = ct_ometria(sqlite_ledger, "sync", "--start", "2024-05-01", "--end", "2024-05-04", "--days-per-run", "1",
                      "--workers", "2")  # fmt: skip
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    assert "--workers 2 needs the ledger on PostgreSQL: CT_OMETRIA_DATABASE_URL is SQLite" in done.stderr
    home = tmp_path / "sqlite_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    done = ct_ometria({**cli_env, "DAGSTER_HOME": str(home)}, "sync", "--start", "2024-05-01", "--end", "2024-05-04",
                      "--days-per-run", "1", "--workers", "3")  # fmt: skip
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"--workers 3 needs the Dagster instance on PostgreSQL: DAGSTER_HOME={home} keeps its runs in SQLite" in done.stderr
    assert "Traceback" not in done.stderr
    assert sandbox.get("stats")["requests"] == 0
    # One worker on SQLite is the first-run default and goes on as before; so does a range of one run.
    for workers in ("1", "2"):
        done = ct_ometria({**sqlite_ledger, "DAGSTER_HOME": str(home)}, "sync", "--start", "2024-05-01", "--end",
                          "2024-05-01", "--workers", workers)  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_a_locked_sqlite_instance_is_named_as_such(tmp_path, monkeypatch):
    # Another process holding SQLite's write lock while this one creates the instance's tables.
    import sqlite3

    from ct_ometria.cli.sync import open_instance
    from ct_ometria.errors import CtOmetriaError

    home = tmp_path / "home"
    (home / "history").mkdir(parents=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    holder = sqlite3.connect(home / "history" / "runs.db", timeout=0)
    holder.execute("CREATE TABLE held (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(CtOmetriaError, match="SQLite storage .* is locked by another process"):
            open_instance()
    finally:
        holder.rollback()
        holder.close()


def test_an_unreachable_dagster_instance_is_a_clear_error_without_its_password(cli_env):
    env = {**cli_env, "CT_OMETRIA_DAGSTER_PG_URL": "postgresql://postgres:Instance-Pw-4417@127.0.0.1:1/test"}
    done = ct_ometria(env, "sync", "--start", "2024-05-01", "--end", "2024-05-01")
    assert done.returncode == 2, done.stderr[-3000:]
    assert "the Dagster instance's storage" in done.stderr and "Traceback" not in done.stderr
    assert "Instance-Pw-4417" not in done.stdout + done.stderr


def _processes_with(variable: str) -> list[int]:
    """The processes whose environment holds ``variable`` (NAME=value)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if variable.encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found
