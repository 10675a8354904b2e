"""The one daily partitions definition every entity asset shares.

Partition D holds the records whose ``lastModifiedAt`` falls in [D, D+1) UTC. A record modified
again later moves to a later partition, so the newest partition always carries the newest state.
The first day comes from the mapping config (``sync.start_date``), and a backfill runs as one run
per ``sync.days_per_run`` days.
"""

from __future__ import annotations

import datetime as dt

from dagster import BackfillPolicy, DailyPartitionsDefinition, FreshnessPolicy

from ct_ometria.config import load_mapping_config
from ct_ometria.settings import mapping_config_path

_SYNC = load_mapping_config(mapping_config_path()).sync
START_DATE = _SYNC.start_date
DAYS_PER_RUN = _SYNC.days_per_run

daily_partitions = DailyPartitionsDefinition(start_date=START_DATE.isoformat(), timezone="UTC")
# Every asset of the sync shares it, so a backfill's runs each carry all the steps for their days.
backfill_policy = BackfillPolicy.multi_run(max_partitions_per_run=DAYS_PER_RUN)

# The daily schedule syncs the day that ended at 02:00 UTC (reconciliation at 04:00): an entity not
# materialized for 26 hours shows as late in the UI, and after 30 hours as failed.
daily_freshness = FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30), warn_window=dt.timedelta(hours=26))
