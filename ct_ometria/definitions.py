"""The code location: every asset, check, job and schedule, with resources bound to the environment.

Secrets are ``EnvVar``s: Dagster reads them when a run starts and shows only the variable's name.
"""

from __future__ import annotations

from dagster import Definitions, EnvVar

from ct_ometria.defs.commercetools import ct_categories, ct_consents, ct_customers, ct_orders, ct_products
from ct_ometria.defs.events import EVENT_ASSETS, EVENT_JOBS, EVENT_SENSORS
from ct_ometria.defs.io import PartitionedParquetIOManager
from ct_ometria.defs.jobs import (
    customers_to_contacts,
    reconcile_ometria,
    reconcile_ometria_daily,
    sync_to_ometria,
    sync_to_ometria_daily,
)
from ct_ometria.defs.ometria import (
    ometria_contacts,
    ometria_contacts_sync,
    ometria_orders,
    ometria_orders_sync,
    ometria_products,
    ometria_products_sync,
    ometria_reconciliation,
)
from ct_ometria.defs.replay import replay_dead_letters
from ct_ometria.defs.resources import CommercetoolsResource, LedgerResource, MappingConfigResource, OmetriaResource
from ct_ometria.heap import settle as settle_heap
from ct_ometria.settings import (
    DEFAULT_OMETRIA_API_URL,
    data_dir,
    database_schema,
    database_url,
    env_value,
    http_timeout,
    mapping_config_path,
    push_rate,
    push_rate_margin,
)

ASSETS = [
    ct_customers, ct_consents, ct_orders, ct_products, ct_categories,
    ometria_contacts, ometria_orders, ometria_products,
    ometria_contacts_sync, ometria_products_sync, ometria_orders_sync, ometria_reconciliation,
    *EVENT_ASSETS,
]  # fmt: skip


def build_resources() -> dict:
    return {
        "commercetools": CommercetoolsResource(
            project_key=EnvVar("CTP_PROJECT_KEY"),
            client_id=EnvVar("CTP_CLIENT_ID"),
            client_secret=EnvVar("CTP_CLIENT_SECRET"),
            auth_url=EnvVar("CTP_AUTH_URL"),
            api_url=EnvVar("CTP_API_URL"),
            scopes=env_value("CTP_SCOPES", "") or "",
            timeout_seconds=http_timeout(),
        ),
        "ometria": OmetriaResource(
            api_key=EnvVar("OMETRIA_API_KEY"),
            api_url=env_value("OMETRIA_API_URL", DEFAULT_OMETRIA_API_URL) or DEFAULT_OMETRIA_API_URL,
            push_rate_per_second=push_rate(),
            push_rate_margin=push_rate_margin(),
            # Every run shares the account's rate through the ledger's database.
            shared_rate_url=EnvVar("CT_OMETRIA_DATABASE_URL") if env_value("CT_OMETRIA_DATABASE_URL") else database_url(),
            shared_rate_schema=database_schema(),
            timeout_seconds=http_timeout(),
        ),
        "mapping": MappingConfigResource(path=mapping_config_path()),
        # The URL may hold a password: an EnvVar, so the UI shows the variable's name, not its value.
        "ledger": LedgerResource(
            url=EnvVar("CT_OMETRIA_DATABASE_URL") if env_value("CT_OMETRIA_DATABASE_URL") else database_url(),
            db_schema=database_schema(),
        ),
        "frames_io_manager": PartitionedParquetIOManager(base_dir=data_dir()),
    }


defs = Definitions(
    assets=ASSETS,
    jobs=[sync_to_ometria, customers_to_contacts, reconcile_ometria, replay_dead_letters, *EVENT_JOBS],
    schedules=[sync_to_ometria_daily, reconcile_ometria_daily],
    sensors=EVENT_SENSORS,
    resources=build_resources(),
)

# Every process that loads the code location (a run, the code server, the sync CLI) keeps what it
# loaded out of the collector's way (ct_ometria.heap).
settle_heap()
