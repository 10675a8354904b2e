"""The one daily partitions definition every entity asset shares.

Partition D holds the records whose ``lastModifiedAt`` falls in [D, D+1) UTC. A record modified
again later moves to a later partition, so the newest partition always carries the newest state.
The first day comes from the mapping config (``sync.start_date``).
"""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from ct_ometria.config import load_mapping_config
from ct_ometria.settings import mapping_config_path

START_DATE = load_mapping_config(mapping_config_path()).sync.start_date

daily_partitions = DailyPartitionsDefinition(start_date=START_DATE.isoformat(), timezone="UTC")
