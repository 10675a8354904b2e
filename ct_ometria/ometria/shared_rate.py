"""One push rate for every process that pushes to one Ometria account.

Backfill runs, the daily sync and the event runs are separate processes (often on separate machines);
each paces itself, but Ometria counts the account's requests together. pyrate-limiter keeps the
account's slots in a shared bucket: a PostgreSQL table when the ledger is on PostgreSQL (production),
a file-locked SQLite file beside the ledger otherwise. The bucket allows ``rate`` requests in any
window of ``1 + margin`` seconds (``OMETRIA_PUSH_RATE_MARGIN``, default 0.10); each process still spaces
its own requests evenly (the pacer).

Why a window and not one request per ``1/rate`` seconds: a bucket stamps a request when it asks,
a few milliseconds before it is admitted, so under contention two processes' requests landed closer
than the stamped spacing (117 ms apart with a 130 ms rate). Eight requests in any 1.1 s absorb that
jitter; measured with two backfills and the event path on two cores (``bench/one_account.py``):
zero 429.

pyrate-limiter plans a blocked request's slot for the moment its wait should end, and stamps it with
that moment after the thread wakes (``item.timestamp += sleep_ms``). When the process pauses in
between (a full garbage collection of a run's process took 0.3-0.4 s; a thread holding the
interpreter does the same), the request leaves later than its stamp, next to requests stamped after
it: nine in Ometria's second, and a 429. So the buckets here stamp an item with the bucket's clock
when it is put, never earlier: the bucket decides on the moment the request really asks.
"""

from __future__ import annotations

import math
import re
import time
from threading import Thread
from typing import Any

import tenacity
from pyrate_limiter import Limiter, PostgresBucket, Rate, SQLiteBucket
from sqlalchemy.engine import make_url

from ct_ometria.errors import ConfigError
from ct_ometria.settings import DEFAULT_PUSH_RATE_MARGIN, check_margin

# Wider than the pacer's 3%: arrivals from several processes jitter more than one process's spacing.
# The REST bucket's margin always; the push bucket's unless OMETRIA_PUSH_RATE_MARGIN says otherwise.
SAFETY_MARGIN = DEFAULT_PUSH_RATE_MARGIN
# A blocked acquire sleeps the remaining delay plus this much; small, or spacing grows with it.
BUFFER_MS = 1


class _StampsWhenPut:
    """Stamps an item when the bucket is asked, not at the moment pyrate-limiter planned for it (above)."""

    def put(self, item):  # noqa: ANN001, ANN201
        item.timestamp = max(item.timestamp, self.now())
        return super().put(item)


class _PostgresBucket(_StampsWhenPut, PostgresBucket):
    pass


class _SQLiteBucket(_StampsWhenPut, SQLiteBucket):
    pass


def account_rate(rate_per_second: float, margin: float = SAFETY_MARGIN) -> Rate:
    """``rate`` requests per (1 + margin) seconds; below one per second, one per (1 + margin) / rate."""
    if rate_per_second >= 1:
        return Rate(math.floor(rate_per_second), math.ceil(1000 * (1 + margin)))
    return Rate(1, math.ceil(1000 * (1 + margin) / rate_per_second))


def _connection_lost(error: BaseException) -> bool:
    import psycopg

    return isinstance(error, psycopg.OperationalError)


class SharedRate:
    """A blocking gate shared by every process using the same database and ``name``."""

    def __init__(self, limiter: Limiter, name: str, closer: Any = None):
        self._limiter = limiter
        self.name = name
        self._closer = closer

    def acquire(self) -> None:
        # A lost database connection (a restart, a failover, a dropped idle connection) costs a few
        # tries on fresh connections, not the run; a database that stays away still fails it.
        for attempt in tenacity.Retrying(retry=tenacity.retry_if_exception(_connection_lost),
                                         wait=tenacity.wait_exponential(multiplier=0.1, max=2),
                                         stop=tenacity.stop_after_attempt(6), reraise=True):  # fmt: skip
            with attempt:
                # A PostgreSQL bucket answers False at once when another process holds its lock: ask again.
                while not self._limiter.try_acquire(self.name, blocking=True):
                    time.sleep(0.002)

    def close(self) -> None:
        """Stop the bucket's leaker thread and release the bucket's connections.

        pyrate-limiter's ``Limiter.close`` closes the bucket's connections while its leaker thread may be
        between its clock query and its delete, which then raises in that thread. The leaker is stopped
        first; the connections are closed once its thread has ended (at most one leak interval), without
        making the caller wait."""
        factory = self._limiter.bucket_factory
        buckets = factory.get_buckets()
        leaker = getattr(factory, "_leaker", None)
        thread = getattr(leaker, "_thread", None)
        if thread is None or not thread.is_alive():
            self._release(buckets)
            return
        leaker.close()  # sets its stop event and forgets the bucket: the thread ends after its current pass
        Thread(target=lambda: (thread.join(), self._release(buckets)), name="ct_ometria rate close", daemon=True).start()

    def _release(self, buckets: list) -> None:
        self._limiter.close()
        for bucket in buckets:
            bucket.close()  # idempotent
        if self._closer is not None:
            self._closer.close()


def shared_rate(database_url: str, rate_per_second: float, name: str = "ometria_push",
                schema: str = "ct_ometria", margin: float = SAFETY_MARGIN) -> SharedRate:  # fmt: skip
    """The account's shared gate in the database at ``database_url`` (PostgreSQL: a table in the
    ledger's ``schema``; SQLite: a file beside the ledger), admitting ``rate_per_second`` requests in
    any ``1 + margin`` seconds."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", name):
        raise ConfigError(f"a rate bucket name must be a short lower-case identifier, got {name!r}")
    rates = [account_rate(rate_per_second, check_margin(margin))]
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        from psycopg_pool import ConnectionPool

        if not schema.isidentifier():
            raise ConfigError(f"the ledger schema must be an SQL identifier, got {schema!r}")
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        import psycopg

        from ct_ometria.ledger.tables import SCHEMA_LOCK_ID

        # Two processes starting together both see no schema and one CREATE fails; the ledger's
        # lock serialises them (and this with the ledger's migrations).
        with psycopg.connect(conninfo) as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_ID,))
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        # The bucket's table lives beside the ledger's, not in the default schema.
        # check: a connection the server dropped while idle is replaced before it is handed out.
        pool = ConnectionPool(conninfo=conninfo, min_size=1, max_size=2, open=True, check=ConnectionPool.check_connection,
                              kwargs={"autocommit": False, "options": f"-c search_path={schema}"})  # fmt: skip
        return SharedRate(Limiter(_PostgresBucket(pool, name, rates), buffer_ms=BUFFER_MS), name, pool)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        bucket = _SQLiteBucket.init_from_file(rates, table=name, db_path=f"{url.database}.rate", use_file_lock=True)
        return SharedRate(Limiter(bucket, buffer_ms=BUFFER_MS), name)
    raise ConfigError(f"a shared push rate needs a PostgreSQL or SQLite file database, got {url.get_backend_name()}")
