"""Fixtures of the fault suite, and the reliability report it leaves behind.

Every scenario adds a row; at the end of the session the rows are printed and written to
``.reliability/last-run.json``, from which ``scripts/reliability-report`` writes the README's table.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ct_ometria_tests.reliability import harness as h

POSTGRES_URL = os.environ.get("CT_OMETRIA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REPORT = h.ROOT / ".reliability" / "last-run.json"
ROWS: list[h.Row] = []


def _schema() -> str:
    return f"ct_ometria_fault_{uuid.uuid4().hex[:12]}"


def _drop(schema: str) -> None:
    with create_engine(POSTGRES_URL).begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


def make_env(emulator, sandbox, home: Path, schema: str) -> dict[str, str]:  # noqa: ANN001
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = h.clean_environ()
    env.update(emulator.env())
    env.update({
        "OMETRIA_API_KEY": sandbox.api_key, "OMETRIA_API_URL": sandbox.base_url, "DAGSTER_HOME": str(home),
        "CT_OMETRIA_DATA_DIR": str(home / "data"), "CT_OMETRIA_DATABASE_SCHEMA": schema,
        # The name lets a scenario find (and drop) the ledger's own connections and no one else's.
        "CT_OMETRIA_DATABASE_URL": f"{POSTGRES_URL}?application_name={schema}",
        # A held request counts as a timeout after 2 s (the proxy holds for 3).
        "CT_OMETRIA_HTTP_TIMEOUT_SECONDS": "2",
    })  # fmt: skip
    return env


@pytest.fixture(scope="module")
def truth(emulator_server, sandbox_server, tmp_path_factory) -> Iterator[h.Truth]:
    """The same sequence without a fault: the first sync, the 2% change, the rerun."""
    emulator_server.clear()
    sandbox_server.reset()
    schema = _schema()
    env = make_env(emulator_server, sandbox_server, tmp_path_factory.mktemp("truth") / "home", schema)
    try:
        emulator_server.seed(**h.documents())
        first = h.sync(env)
        assert first.returncode == 0, first.stderr[-3000:]
        before = h.held(sandbox_server)
        h.seed_changes(emulator_server)
        rerun = h.sync(env)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        parked = {(letter["record_type"], letter["record_id"]) for letter in h.open_letters(env)}
        yield h.Truth(before=before, records=h.held(sandbox_server), repeated=h.repeated(sandbox_server),
                      parked=parked)  # fmt: skip
    finally:
        _drop(schema)


@pytest.fixture
def fault_env(emulator, sandbox, tmp_path) -> Iterator[dict[str, str]]:
    schema = _schema()
    emulator.seed(**h.documents())
    try:
        yield make_env(emulator, sandbox, tmp_path / "home", schema)
    finally:
        _drop(schema)


@pytest.fixture
def report() -> h.Row:
    """The row this scenario adds to the reliability report."""

    def add(row: h.Row) -> None:
        ROWS.append(row)

    return add


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    if not ROWS:
        return
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                  "rows": [row.as_dict() for row in ROWS]}, indent=2) + "\n")  # fmt: skip
    terminalreporter.section("reliability report")
    for row in ROWS:
        data = row.as_dict()
        terminalreporter.write_line(
            f"{data['scenario']:<44} faults={data['faults_total']:<4} records={data['records']}  lost={data['lost']}  "
            f"stale={data['stale']}  parked={data['parked']}  duplicates={data['duplicates']}  "
            f"first_run={data['first_run']}  rerun={data['rerun']}"
        )
    terminalreporter.write_line(f"written to {REPORT.relative_to(h.ROOT)}")
