"""Asset values as Parquet, one file per asset and partition: files a data team can open.

Writing a partition replaces its file (write to a temporary name, then rename), so re-runs and
backfills are idempotent. A single-run backfill over a range writes one file per day of the range.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
from dagster import ConfigurableIOManager, InputContext, OutputContext

PARTITION_COLUMN = "partition"

# Arrow's buffers from the system allocator, not its default jemalloc pool: jemalloc keeps what a
# step's Parquet write and read freed for reuse, so a run's memory grew by several times each frame
# it wrote and read (BENCHMARKS.md).
pa.set_memory_pool(pa.system_memory_pool())


class PartitionedParquetIOManager(ConfigurableIOManager):
    base_dir: str

    def _path(self, asset_path: list[str], partition: str) -> Path:
        return Path(self.base_dir, *asset_path, f"{partition}.parquet")

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        if not context.has_asset_partitions:
            raise ValueError(f"{context.asset_key.to_user_string()}: this IO manager stores partitioned assets only")
        keys = list(context.asset_partition_keys)
        stray = set(obj[PARTITION_COLUMN].dropna().unique()) - set(keys)
        if stray:
            raise ValueError(
                f"{context.asset_key.to_user_string()}: rows for partitions {sorted(stray)[:5]} outside the run's "
                f"partitions {keys[0]}..{keys[-1]}"
            )
        for key in keys:
            path = self._path(context.asset_key.path, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            # A temporary file of this write's own, so two runs writing the same day never mix.
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
            os.close(handle)
            try:
                obj[obj[PARTITION_COLUMN] == key].reset_index(drop=True).to_parquet(temporary, index=False)
                os.replace(temporary, path)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)

    def load_input(self, context: InputContext) -> pd.DataFrame:
        frames = []
        for key in context.asset_partition_keys:
            path = self._path(context.asset_key.path, key)
            if path.exists():
                frames.append(pd.read_parquet(path))
        if not frames:
            raise FileNotFoundError(
                f"{context.asset_key.to_user_string()} has no stored partitions among "
                f"{list(context.asset_partition_keys)[:3]}...; materialize it first"
            )
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
