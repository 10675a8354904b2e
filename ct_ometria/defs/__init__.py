"""The Dagster shell: assets, checks, resources, partitions, jobs and schedules. The only package
that imports dagster."""

import warnings

from dagster import BetaWarning

# Every asset takes a BackfillPolicy (runs of sync.days_per_run days), which Dagster marks beta; the
# warning, once per asset in every process that loads the code location, says nothing to act on.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=BetaWarning)

# A run waiting for a pool slot must sleep, not spin (pool_wait explains the Dagster bug it fixes).
from ct_ometria.defs import pool_wait  # noqa: E402

pool_wait.install()
