"""The ledger's tables. On PostgreSQL they live in their own schema (``ct_ometria``), beside
Dagster's tables on the same server; on SQLite, in the database file."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

# The PostgreSQL advisory lock every process takes before it creates or migrates the ledger's schema:
# concurrent `CREATE SCHEMA IF NOT EXISTS` statements race on the catalogue otherwise.
SCHEMA_LOCK_ID = 727200

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
Index("pushed_records_source", pushed_records.c.record_type, pushed_records.c.source_id)

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

# ---- near-real-time events -------------------------------------------------------------------

# commercetools messages already acted on (they are delivered at least once): dedupe by id.
processed_messages = Table(
    "processed_messages",
    metadata,
    Column("message_id", String(64), primary_key=True),
    Column("resource_type", String(32), nullable=False),
    Column("resource_id", String(64), nullable=False),
    Column("sequence_number", Integer, nullable=True),
    Column("resource_version", Integer, nullable=True),
    Column("message_type", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)
Index("processed_messages_created", processed_messages.c.created_at)

# The newest resource version each event effect was computed from: older messages are dropped.
resource_versions = Table(
    "resource_versions",
    metadata,
    Column("resource_type", String(32), primary_key=True),
    Column("resource_id", String(64), primary_key=True),
    Column("resource_version", Integer, nullable=False),
    Column("sequence_number", Integer, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Behavioural events waiting for Ometria (storefront collector, cart poller): the inbox is durable,
# so nothing is lost while the sensors are stopped. ``status``: pending, held (no identity yet),
# sent, parked.
event_inbox = Table(
    "event_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(255), nullable=False, unique=True),
    Column("source", String(32), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("record", Text, nullable=False),
    Column("cart_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("reason", Text, nullable=True),
)
Index("event_inbox_status", event_inbox.c.status, event_inbox.c.id)
Index("event_inbox_cart", event_inbox.c.cart_id)

# The last state of each cart the poller saw, to diff the next one against.
cart_snapshots = Table(
    "cart_snapshots",
    metadata,
    Column("cart_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("lines", Text, nullable=False),
    Column("checkout_started", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# GDPR erasure requests for deleted customers (Ometria takes 6 per minute): queued, then sent.
deletion_requests = Table(
    "deletion_requests",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("identity_hash", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("reason", Text, nullable=True),
)
