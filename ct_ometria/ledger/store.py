"""The ledger's operations: plan a push against what Ometria already accepted, record accepted
batches, keep the audit trail, park and resolve dead letters, keep cursors.

A record enters ``pushed_records`` only after Ometria accepted its batch, one transaction per batch:
a crash between a push and its commit resends that batch on the next run (harmless, Ometria upserts
by id) but never loses a record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from filelock import FileLock
from filelock import Timeout as FileLockTimeout
from sqlalchemy import Engine, and_, create_engine, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ct_ometria.errors import ConfigError
from ct_ometria.ledger.tables import SCHEMA_LOCK_ID, cursors, dead_letters, push_batches, pushed_records

logger = logging.getLogger("ct_ometria.ledger")

POSTGRES_SCHEMA = "ct_ometria"
# Ometria validates after accepting: letters of this stage are resolved by the harvest that follows
# an accepted push without a new error, not by the acceptance itself.
ASYNC_STAGE = "ometria_validation"
MIGRATIONS = Path(__file__).with_name("migrations")
CHUNK = 500
# pushed_records is analysed again once this share of it (and at least this many rows) changed, and
# not again by the same ledger within this many seconds (a failing analysis is not retried at once).
STATISTICS_SHARE = 0.2
STATISTICS_MINIMUM = 5_000
STATISTICS_CHECK_SECONDS = 30.0
_migrated: set[tuple[str, str]] = set()
_migrate_lock = threading.Lock()
_local_locks: dict[tuple[str, str, str], threading.Lock] = {}
_local_locks_guard = threading.Lock()


def _held_too_long(name: str, wait_seconds: float) -> TimeoutError:
    return TimeoutError(f"the ledger lock {name!r} was held for over {wait_seconds:.0f} s")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; every moment the ledger writes is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Candidate:
    """A record that may be pushed, with what the ledger compares."""

    record_type: str
    record_id: str
    content_hash: str
    body: bytes
    source_id: str | None = None
    source_version: int | None = None
    partition: str | None = None
    identity_hash: str | None = None


@dataclass
class Plan:
    new: list[Candidate] = field(default_factory=list)
    changed: list[Candidate] = field(default_factory=list)
    unchanged: list[Candidate] = field(default_factory=list)
    stale: list[Candidate] = field(default_factory=list)
    # Changed records whose identity (a contact's email) changed: Ometria wants those pushed alone.
    identity_changed: list[Candidate] = field(default_factory=list)

    @property
    def to_send(self) -> list[Candidate]:
        return [*self.new, *self.changed]


def engine_for(url: str, schema: str = POSTGRES_SCHEMA) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("CT_OMETRIA_DATABASE_URL is not an SQLAlchemy URL (e.g. sqlite:///state.db)") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, pool_pre_ping=True)
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


ID_WIDTH = 255


def fit_id(value: str | None) -> str | None:
    """``value`` if it fits an id column, else its first 180 characters, ``~`` and its sha256."""
    if value is None or len(value) <= ID_WIDTH:
        return value
    return f"{value[:180]}~{hashlib.sha256(value.encode()).hexdigest()}"


class Ledger:
    def __init__(self, url: str, schema: str = POSTGRES_SCHEMA, *, revision: str = "head"):
        if not schema.isidentifier():
            raise ConfigError(f"the ledger schema must be an SQL identifier, got {schema!r}")
        self.url = url
        self.schema = schema
        self.engine = engine_for(url, schema)
        self._postgres = self.engine.dialect.name == "postgresql"
        self._analysed_at = -STATISTICS_CHECK_SECONDS
        self.migrate(revision)

    def migrate(self, revision: str = "head") -> None:
        """Create or upgrade the tables (alembic), once per process; PostgreSQL serialises concurrent
        migrations with an advisory lock."""
        with _migrate_lock:
            if (self.url, self.schema) in _migrated and revision == "head":
                return
            with self.engine.begin() as connection:
                if self._postgres:
                    connection.execute(text(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_ID})"))
                    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {self.schema}"))
                    # Migrations name tables without a schema; ALTER statements do not go through the
                    # engine's schema translation, so resolve names in the ledger's schema, for this
                    # transaction only.
                    connection.execute(text(f"SET LOCAL search_path TO {self.schema}"))
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = connection
                config.attributes["schema"] = self.schema if self._postgres else None
                command.upgrade(config, revision)
            if revision == "head":
                _migrated.add((self.url, self.schema))

    @contextmanager
    def exclusive(self, name: str, wait_seconds: float = 600.0) -> Iterator[None]:
        """One holder of ``name`` at a time among the processes sharing this ledger: on PostgreSQL a
        session advisory lock (the database releases it if its holder's session ends), on SQLite a
        file lock beside the database. Not re-entrant. ``TimeoutError`` after ``wait_seconds``."""
        if self._postgres:
            with self._advisory_lock(name, wait_seconds):
                yield
            return
        database = self.engine.url.database
        if database in (None, "", ":memory:"):
            with _local_locks_guard:
                lock = _local_locks.setdefault((self.url, self.schema, name), threading.Lock())
            if not lock.acquire(timeout=wait_seconds):
                raise _held_too_long(name, wait_seconds)
            try:
                yield
            finally:
                lock.release()
            return
        try:
            with FileLock(f"{database}.{name}.lock", timeout=wait_seconds):
                yield
        except FileLockTimeout:
            raise _held_too_long(name, wait_seconds) from None

    @contextmanager
    def _advisory_lock(self, name: str, wait_seconds: float) -> Iterator[None]:
        key = int.from_bytes(hashlib.sha256(f"{self.schema}:{name}".encode()).digest()[:8], "big", signed=True)
        deadline = time.monotonic() + wait_seconds
        with self.engine.connect() as connection:
            # Polled rather than waited for in the database, so a waiting run can be stopped.
            while not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
                connection.commit()
                if time.monotonic() > deadline:
                    raise _held_too_long(name, wait_seconds)
                time.sleep(0.1)
            connection.commit()  # the lock is the session's: no transaction stays open while it is held
            try:
                yield
            finally:
                try:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    connection.commit()
                except DBAPIError:
                    # The session may still hold the lock: closed, not returned to the pool, it lets go.
                    connection.invalidate()

    def _insert(self, table):  # noqa: ANN001, ANN202
        return (postgresql.insert if self._postgres else sqlite.insert)(table)

    # --- delta ----------------------------------------------------------------------------------

    def known(self, record_type: str, record_ids: Sequence[str]) -> dict[str, tuple[str, int | None, str | None]]:
        """(content hash, source version, identity hash) of each record Ometria accepted."""
        found: dict[str, tuple[str, int | None, str | None]] = {}
        columns = pushed_records.c
        if len(record_ids) > CHUNK:
            self._keep_statistics()
        with self.engine.connect() as connection:
            for start in range(0, len(record_ids), CHUNK):
                chunk = list(record_ids[start : start + CHUNK])
                rows = connection.execute(
                    select(columns.record_id, columns.content_hash, columns.source_version, columns.identity_hash)
                    .where(columns.record_type == record_type)
                    .where(columns.record_id.in_(chunk))
                )
                found.update({row.record_id: (row.content_hash, row.source_version, row.identity_hash) for row in rows})
        return found

    def _keep_statistics(self) -> None:
        """Analyse ``pushed_records`` when a fifth of it changed since PostgreSQL last did.

        A bulk lookup finds its ids through the primary key only while the planner knows how many
        rows of the type there are. A backfill grows the table from nothing to millions of rows in
        hours, and its mix of types shifts (contacts, then orders); with statistics from an emptier
        table, the planner expected a few hundred order rows and read all of them through the
        (record_type, source_id) index for each 500 ids: 173 ms against 3 ms at 400,000 rows, and
        looking up one run's 19,000 orders took 3-5 s instead of 0.3. Autovacuum analyses the table
        where it runs, a while after it grew; where it is off or lags, the ledger does it here.
        PostgreSQL skips, with a warning, the analysis a user that does not own the table asks for:
        there autovacuum's are all there is. ``SKIP_LOCKED``: while another run (or a vacuum) holds
        the table's maintenance lock, this lookup does not wait for it."""
        if not self._postgres or time.monotonic() - self._analysed_at < STATISTICS_CHECK_SECONDS:
            return
        with self.engine.connect() as connection:
            row = connection.execute(
                text("SELECT n_live_tup, n_mod_since_analyze FROM pg_stat_user_tables "
                     "WHERE schemaname = :schema AND relname = :table"),
                # The schema is created unquoted (CREATE SCHEMA ct_ometria): PostgreSQL keeps it lower-case.
                {"schema": self.schema.lower(), "table": pushed_records.name},
            ).first()  # fmt: skip
            if row is None or row.n_mod_since_analyze < max(STATISTICS_MINIMUM, STATISTICS_SHARE * row.n_live_tup):
                return
            self._analysed_at = time.monotonic()
            try:
                connection.execute(text(f"ANALYZE (SKIP_LOCKED) {self.schema}.{pushed_records.name}"))
                connection.commit()
            except DBAPIError as error:  # a statement timeout, say: the lookup goes on with the old statistics
                connection.rollback()
                logger.warning("could not analyse the ledger's pushed_records: %s", type(error.orig).__name__)

    def plan(self, candidates: Iterable[Candidate]) -> Plan:
        plan = Plan()
        by_type: dict[str, list[Candidate]] = {}
        for candidate in candidates:
            by_type.setdefault(candidate.record_type, []).append(candidate)
        for record_type, items in by_type.items():
            known = self.known(record_type, [item.record_id for item in items])
            for item in items:
                previous = known.get(item.record_id)
                if previous is None:
                    plan.new.append(item)
                elif previous[0] == item.content_hash:
                    plan.unchanged.append(item)
                elif previous[1] is not None and item.source_version is not None and item.source_version < previous[1]:
                    plan.stale.append(item)  # an older version must never overwrite a newer one
                else:
                    plan.changed.append(item)
                    if previous[2] and item.identity_hash and previous[2] != item.identity_hash:
                        plan.identity_changed.append(item)
        return plan

    def record_accepted(self, items: Sequence[Candidate], request_id: str | None, batch: dict[str, Any] | None) -> None:
        """One transaction: the batch's audit row, its records, and the dead letters they resolve."""
        moment = now()
        with self.engine.begin() as connection:
            if batch is not None:
                connection.execute(push_batches.insert().values(**batch, pushed_at=moment))
            if not items:
                return
            statement = self._insert(pushed_records)
            statement = statement.on_conflict_do_update(
                index_elements=[pushed_records.c.record_type, pushed_records.c.record_id],
                set_={name: statement.excluded[name] for name in
                      ("content_hash", "source_id", "source_version", "pushed_at", "request_id", "partition",
                       "identity_hash")},
                # Two runs racing: a batch carrying an older version must not replace a newer one.
                where=(pushed_records.c.source_version.is_(None) | statement.excluded.source_version.is_(None)
                       | (pushed_records.c.source_version <= statement.excluded.source_version)),
            )  # fmt: skip
            connection.execute(
                statement,
                [
                    {"record_type": i.record_type, "record_id": i.record_id, "content_hash": i.content_hash,
                     "source_id": i.source_id, "source_version": i.source_version, "pushed_at": moment,
                     "request_id": request_id, "partition": i.partition, "identity_hash": i.identity_hash}
                    for i in items
                ],
            )  # fmt: skip
            self._resolve(connection, items[0].record_type, [i.record_id for i in items], moment)
            sources = [i.source_id for i in items if i.source_id]
            if sources:
                self._resolve_sources(connection, sources, moment)

    def record_batch(self, batch: dict[str, Any]) -> None:
        with self.engine.begin() as connection:
            connection.execute(push_batches.insert().values(**batch, pushed_at=now()))

    def suppressed_since(self, record_ids: Sequence[str]) -> dict[str, dt.datetime]:
        """When each contact was last sent suppressed (for those that ever were)."""
        found: dict[str, dt.datetime] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(record_ids), CHUNK):
                rows = connection.execute(
                    select(pushed_records.c.record_id, pushed_records.c.suppressed_at)
                    .where(pushed_records.c.record_type == "contact")
                    .where(pushed_records.c.record_id.in_(list(record_ids[start : start + CHUNK])))
                    .where(pushed_records.c.suppressed_at.is_not(None))
                )
                found.update({row.record_id: _aware(row.suppressed_at) for row in rows})
        return found

    def mark_suppressed(self, record_ids: Sequence[str]) -> None:
        moment = now()
        with self.engine.begin() as connection:
            for start in range(0, len(record_ids), CHUNK):
                connection.execute(
                    update(pushed_records)
                    .where(pushed_records.c.record_type == "contact")
                    .where(pushed_records.c.record_id.in_(list(record_ids[start : start + CHUNK])))
                    .values(suppressed_at=moment)
                )

    def source_ids(self, record_type: str, record_ids: Sequence[str]) -> dict[str, str]:
        """The commercetools id each pushed record came from."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(pushed_records.c.record_id, pushed_records.c.source_id)
                .where(pushed_records.c.record_type == record_type)
                .where(pushed_records.c.record_id.in_(list(record_ids)))
            )
            return {row.record_id: row.source_id for row in rows if row.source_id}

    def records_of_sources(self, record_type: str, source_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Per commercetools id, the records Ometria accepted from it (record id and identity hash)."""
        columns = pushed_records.c
        found: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(source_ids), CHUNK):
                chunk = list(source_ids[start : start + CHUNK])
                rows = connection.execute(
                    select(columns.source_id, columns.record_id, columns.identity_hash)
                    .where(columns.record_type == record_type)
                    .where(columns.source_id.in_(chunk))
                )  # fmt: skip
                for row in rows:
                    found.setdefault(row.source_id, []).append({"record_id": row.record_id, "identity_hash": row.identity_hash})
        return found

    def forget(self, record_type: str, record_ids: Sequence[str]) -> int:
        """Drop records from the ledger so the next run sends them again (Ometria refused them later)."""
        with self.engine.begin() as connection:
            return connection.execute(
                delete(pushed_records).where(pushed_records.c.record_type == record_type)
                .where(pushed_records.c.record_id.in_(list(record_ids)))
            ).rowcount  # fmt: skip

    def pushed(self, record_type: str | None = None) -> list[dict[str, Any]]:
        query = select(pushed_records)
        if record_type:
            query = query.where(pushed_records.c.record_type == record_type)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query.order_by(pushed_records.c.record_id))]

    def batches(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(push_batches).order_by(push_batches.c.id))]

    # --- dead letters -----------------------------------------------------------------------------

    def park(self, letters: Iterable[dict[str, Any]]) -> int:
        """Add or refresh open dead letters (``record_type``, ``record_id``, ``stage``, ``reason``,
        ``payload``, ``partition``, ``source_id``); the same open letter seen again counts an attempt."""
        count = 0
        moment = now()
        with self.engine.begin() as connection:
            for letter in letters:
                count += 1
                # A letter is never lost to a column's width: an id beyond it is kept as a prefix and a digest.
                letter = {**letter, "record_id": fit_id(letter["record_id"]), "source_id": fit_id(letter.get("source_id"))}
                match = and_(
                    dead_letters.c.record_type == letter["record_type"],
                    dead_letters.c.record_id == letter["record_id"],
                    dead_letters.c.stage == letter["stage"],
                    dead_letters.c.resolved.is_(False),
                )
                existing = connection.execute(select(dead_letters.c.id).where(match)).first()
                if existing:
                    connection.execute(
                        update(dead_letters).where(dead_letters.c.id == existing.id).values(
                            reason=letter["reason"], payload=letter.get("payload"), last_seen=moment,
                            attempts=dead_letters.c.attempts + 1,
                        )
                    )  # fmt: skip
                else:
                    connection.execute(
                        dead_letters.insert().values(
                            record_type=letter["record_type"], record_id=letter["record_id"], stage=letter["stage"],
                            reason=letter["reason"], payload=letter.get("payload"), partition=letter.get("partition"),
                            source_id=letter.get("source_id"), first_seen=moment, last_seen=moment, attempts=1,
                            resolved=False,
                        )
                    )  # fmt: skip
        return count

    def _resolve(self, connection, record_type: str, record_ids: list[str], moment: dt.datetime,  # noqa: ANN001
                 asynchronous: bool = False) -> None:  # fmt: skip
        stage = dead_letters.c.stage == ASYNC_STAGE if asynchronous else dead_letters.c.stage != ASYNC_STAGE
        record_ids = [fit_id(record_id) for record_id in record_ids]  # as park() stored them
        for start in range(0, len(record_ids), CHUNK):
            connection.execute(
                update(dead_letters)
                .where(dead_letters.c.record_type == record_type)
                .where(dead_letters.c.record_id.in_(record_ids[start : start + CHUNK]))
                .where(dead_letters.c.resolved.is_(False))
                .where(stage)
                .values(resolved=True, resolved_at=moment)
            )

    def resolve_validated(self, record_type: str, record_ids: Sequence[str]) -> None:
        """Resolve the asynchronous-validation letters of records Ometria accepted and did not refuse."""
        with self.engine.begin() as connection:
            self._resolve(connection, record_type, list(record_ids), now(), asynchronous=True)

    def _resolve_sources(self, connection, source_ids: list[str], moment: dt.datetime) -> None:  # noqa: ANN001
        """A record accepted from a source resolves the letters parked for that source at any stage."""
        source_ids = [fit_id(source_id) for source_id in source_ids]  # as park() stored them
        for start in range(0, len(source_ids), CHUNK):
            connection.execute(
                update(dead_letters)
                .where(dead_letters.c.source_id.in_(source_ids[start : start + CHUNK]))
                .where(dead_letters.c.resolved.is_(False))
                .where(dead_letters.c.stage != ASYNC_STAGE)
                .values(resolved=True, resolved_at=moment)
            )

    def resolve_sources(self, source_ids: Sequence[str]) -> None:
        if source_ids:
            with self.engine.begin() as connection:
                self._resolve_sources(connection, list(source_ids), now())

    def resolve(self, record_type: str, record_ids: Sequence[str]) -> None:
        with self.engine.begin() as connection:
            self._resolve(connection, record_type, list(record_ids), now())

    def dead_letters(
        self, record_type: str | None = None, record_id: str | None = None, include_resolved: bool = False
    ) -> list[dict[str, Any]]:
        query = select(dead_letters)
        if record_type:
            query = query.where(dead_letters.c.record_type == record_type)
        if record_id:
            query = query.where(dead_letters.c.record_id == fit_id(record_id))
        if not include_resolved:
            query = query.where(dead_letters.c.resolved.is_(False))
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query.order_by(dead_letters.c.id))]

    def open_counts(self) -> dict[str, int]:
        query = (
            select(dead_letters.c.record_type, func.count())
            .where(dead_letters.c.resolved.is_(False))
            .group_by(dead_letters.c.record_type)
        )
        with self.engine.connect() as connection:
            return {row[0]: row[1] for row in connection.execute(query)}

    # --- cursors ----------------------------------------------------------------------------------

    def cursor(self, name: str) -> str | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(cursors.c.value).where(cursors.c.name == name)).first()
        return row.value if row else None

    def set_cursor(self, name: str, value: str) -> None:
        statement = self._insert(cursors).values(name=name, value=value, updated_at=now())
        statement = statement.on_conflict_do_update(
            index_elements=[cursors.c.name], set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at}
        )
        with self.engine.begin() as connection:
            connection.execute(statement)
