"""``ct-ometria sync`` end to end: a real Dagster run recorded in a PostgreSQL-backed instance."""

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from ct_ometria.local.sample import customer_document, sample_customers
from ct_ometria_tests.pipeline.conftest import at

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("CT_OMETRIA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def cli_env(emulator, sandbox, tmp_path, monkeypatch) -> dict[str, str]:
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
    assert "FAILED" in done.stdout and "check customers_valid    FAILED" in done.stdout
    with DagsterInstance.from_config(cli_env["DAGSTER_HOME"]) as instance:
        run = instance.get_run_by_id(done.stdout.split()[1])
        assert run.status == DagsterRunStatus.FAILURE
        assert instance.get_runs(RunsFilter(run_ids=[run.run_id]))
    assert sandbox.requests() == []
