"""Jobs and schedules."""

from __future__ import annotations

from dagster import AssetSelection, build_schedule_from_partitioned_job, define_asset_job

from ct_ometria.defs.commercetools import ct_customers
from ct_ometria.defs.ometria import ometria_contacts, ometria_contacts_sync

CONTACTS_JOB = "customers_to_contacts"

customers_to_contacts = define_asset_job(
    CONTACTS_JOB,
    selection=AssetSelection.assets(ct_customers, ometria_contacts, ometria_contacts_sync),
    description="commercetools customers to Ometria contacts, for one day or a range of days in one run.",
)

# Each night at 02:00 UTC, sync the day that just ended.
customers_to_contacts_daily = build_schedule_from_partitioned_job(customers_to_contacts, hour_of_day=2)
