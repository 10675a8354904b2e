"""The ledger's tables. On PostgreSQL they live in their own schema (``ct_ometria``), beside
Dagster's tables on the same server; on SQLite, in the database file."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

# One row per record Ometria accepted: the last accepted content and version.
pushed_records = Table(
    "pushed_records",
    metadata,
    Column("record_type", String(32), primary_key=True),
    Column("record_id", String(255), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("source_id", String(255), nullable=True),
    Column("source_version", Integer, nullable=True),
    Column("pushed_at", DateTime(timezone=True), nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("partition", String(10), nullable=True),
    # A hash of the contact's email (never the email itself): an email change goes on its own.
    Column("identity_hash", String(64), nullable=True),
    # When the contact was last sent suppressed: opt-ins given before it never count again.
    Column("suppressed_at", DateTime(timezone=True), nullable=True),
)

# One row per push request: the audit trail.
push_batches = Table(
    "push_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_type", String(32), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("http_status", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("run_id", String(64), nullable=True),
    Column("pushed_at", DateTime(timezone=True), nullable=False),
)

# Records that could not go, with the reason (naming the field) and the payload to resend.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_type", String(32), nullable=False),
    Column("record_id", String(255), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=True),
    Column("partition", String(10), nullable=True),
    Column("source_id", String(255), nullable=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("resolved", Boolean, nullable=False, default=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
)
Index("dead_letters_open", dead_letters.c.record_type, dead_letters.c.record_id, dead_letters.c.resolved)
Index("dead_letters_source", dead_letters.c.source_id)

cursors = Table(
    "cursors",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
