"""Jobs and schedules."""

from __future__ import annotations

from dagster import AssetSelection, build_schedule_from_partitioned_job, define_asset_job

SYNC_JOB = "sync_to_ometria"
CONTACTS_JOB = "customers_to_contacts"

sync_to_ometria = define_asset_job(
    SYNC_JOB,
    selection=AssetSelection.groups("commercetools", "ometria"),
    description="Every entity, commercetools to Ometria, for one day or a range of days in one run: "
    "products and contacts first, then the orders that reference them.",
)

customers_to_contacts = define_asset_job(
    CONTACTS_JOB,
    selection=AssetSelection.assets("ct_customers", "ct_orders", "ct_consents", "ometria_contacts", "ometria_contacts_sync"),
    description="commercetools customers (and their consent, including checkout opt-ins) to Ometria contacts only.",
)

RECONCILE_JOB = "reconcile_ometria"
reconcile_ometria = define_asset_job(
    RECONCILE_JOB,
    selection=AssetSelection.groups("reconciliation"),
    description="Compare commercetools, the ledger and a sample read back from Ometria; re-send the gaps.",
)

# Each night at 02:00 UTC, sync the day that just ended; at 04:00, reconcile it.
sync_to_ometria_daily = build_schedule_from_partitioned_job(sync_to_ometria, hour_of_day=2)
reconcile_ometria_daily = build_schedule_from_partitioned_job(reconcile_ometria, hour_of_day=4)
