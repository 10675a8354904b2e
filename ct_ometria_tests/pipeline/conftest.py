"""Fixtures for real Dagster runs against the emulator and the sandbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, materialize

from ct_ometria.definitions import ASSETS
from ct_ometria.defs.commercetools import ct_consents, ct_customers, ct_orders
from ct_ometria.defs.io import PartitionedParquetIOManager
from ct_ometria.defs.ometria import ometria_contacts, ometria_contacts_sync
from ct_ometria.defs.resources import CommercetoolsResource, LedgerResource, MappingConfigResource, OmetriaResource

CONTACT_ASSETS = [ct_customers, ct_orders, ct_consents, ometria_contacts, ometria_contacts_sync]
UTC = dt.timezone.utc


def at(day: str, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), UTC)


@pytest.fixture
def resources(emulator, sandbox, tmp_path) -> dict:
    env = emulator.env()
    return {
        "commercetools": CommercetoolsResource(
            project_key=env["CTP_PROJECT_KEY"],
            client_id=env["CTP_CLIENT_ID"],
            client_secret=env["CTP_CLIENT_SECRET"],
            auth_url=env["CTP_AUTH_URL"],
            api_url=env["CTP_API_URL"],
        ),
        "ometria": OmetriaResource(api_key=sandbox.api_key, api_url=sandbox.base_url),
        "mapping": MappingConfigResource(path=None),
        "frames_io_manager": PartitionedParquetIOManager(base_dir=str(tmp_path / "frames")),
        "ledger": LedgerResource(url=f"sqlite:///{tmp_path / 'ledger.db'}"),
    }


@pytest.fixture
def mapping_file(tmp_path) -> Callable[[dict], MappingConfigResource]:
    def write(data: dict) -> MappingConfigResource:
        path = Path(tmp_path, "mapping.yaml")
        path.write_text(yaml.safe_dump(data))
        return MappingConfigResource(path=str(path))

    return write


def _runner(resources: dict, assets: list) -> Callable:
    def run(start: str, end: str | None = None, instance: DagsterInstance | None = None, **overrides):
        tags = {}
        partition_key = start
        if end is not None and end != start:
            tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
            partition_key = None
        return materialize(
            assets,
            partition_key=partition_key,
            tags=tags,
            resources={**resources, **overrides},
            instance=instance or DagsterInstance.ephemeral(),
            raise_on_error=False,
        )

    return run


@pytest.fixture
def run_contacts(resources) -> Callable:
    """Materialize the contacts path for one day, or a range of days in one run."""
    return _runner(resources, CONTACT_ASSETS)


@pytest.fixture
def run_all(resources) -> Callable:
    """Materialize every extraction, mapping and sync asset (not reconciliation) for one day, or a range."""
    return _runner(resources, [a for a in ASSETS if a.key.to_user_string() != "ometria_reconciliation"])
