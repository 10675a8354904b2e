"""Shared fixtures: the commercetools emulator and the Ometria sandbox as real local servers."""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from ct_ometria.local.emulator import EMULATOR_DIR, Emulator, start_emulator
from ct_ometria_tests.servers import SandboxProcess, start_sandbox_process


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    # Never skipped: CI installs node and runs `npm ci` in emulator/, and a missing emulator must fail loudly.
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH: the commercetools emulator needs Node.js 20+")
    server = start_emulator(directory=EMULATOR_DIR)
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_server: Emulator) -> Emulator:
    """The session's emulator, emptied for this test."""
    emulator_server.clear()
    return emulator_server


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxProcess]:
    server = start_sandbox_process(secrets.token_urlsafe(16))
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxProcess) -> SandboxProcess:
    """The session's sandbox, emptied for this test."""
    sandbox_server.reset()
    return sandbox_server


POSTGRES_URL = os.environ.get("CT_OMETRIA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def ledger_schema() -> Iterator[str]:
    """A PostgreSQL schema of this test's own for the ledger, dropped afterwards."""
    schema = f"ct_ometria_test_{uuid.uuid4().hex[:12]}"
    yield schema
    with create_engine(POSTGRES_URL).begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
