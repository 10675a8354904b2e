"""One push rate for every process that pushes to one Ometria account.

Backfill runs, the daily sync and the event runs are separate processes (often on separate machines);
each paces itself, but Ometria counts the account's requests together. pyrate-limiter keeps the
account's slots in a shared bucket: a PostgreSQL table when the ledger is on PostgreSQL (production),
a file-locked SQLite file beside the ledger otherwise. The rate is one request per
``(1 + margin) / rate`` seconds, so requests stay evenly spaced across processes as within one.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pyrate_limiter import Limiter, Rate
from sqlalchemy.engine import make_url

from ct_ometria.errors import ConfigError
from ct_ometria.ometria.pacer import SAFETY_MARGIN
# A blocked acquire sleeps the remaining delay plus this much; small, or spacing grows with it.
BUFFER_MS = 1


def interval_ms(rate_per_second: float) -> int:
    return math.ceil(1000 * (1 + SAFETY_MARGIN) / rate_per_second)


class SharedRate:
    """A blocking gate shared by every process using the same database and ``name``."""

    def __init__(self, limiter: Limiter, name: str, closer: Any = None):
        self._limiter = limiter
        self.name = name
        self._closer = closer

    def acquire(self) -> None:
        self._limiter.try_acquire(self.name, blocking=True)

    def close(self) -> None:
        if self._closer is not None:
            self._closer.close()


def shared_rate(database_url: str, rate_per_second: float, name: str = "ometria_push") -> SharedRate:
    """The account's shared gate in the database at ``database_url`` (PostgreSQL or SQLite)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", name):
        raise ConfigError(f"a rate bucket name must be a short lower-case identifier, got {name!r}")
    rates = [Rate(1, interval_ms(rate_per_second))]
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        from psycopg_pool import ConnectionPool
        from pyrate_limiter import PostgresBucket

        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        pool = ConnectionPool(conninfo=conninfo, min_size=1, max_size=2, open=True, kwargs={"autocommit": False})
        return SharedRate(Limiter(PostgresBucket(pool, name, rates), buffer_ms=BUFFER_MS), name, pool)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        from pyrate_limiter import SQLiteBucket

        bucket = SQLiteBucket.init_from_file(rates, table=name, db_path=f"{url.database}.rate", use_file_lock=True)
        return SharedRate(Limiter(bucket, buffer_ms=BUFFER_MS), name)
    raise ConfigError(f"a shared push rate needs a PostgreSQL or SQLite file database, got {url.get_backend_name()}")
