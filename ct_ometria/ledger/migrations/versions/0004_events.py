"""Near-real-time events: processed messages, resource versions, the event inbox, cart snapshots and
deletion requests.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_messages",
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("sequence_number", sa.Integer),
        sa.Column("resource_version", sa.Integer),
        sa.Column("message_type", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("processed_messages_created", "processed_messages", ["created_at"])
    op.create_table(
        "resource_versions",
        sa.Column("resource_type", sa.String(32), primary_key=True),
        sa.Column("resource_id", sa.String(64), primary_key=True),
        sa.Column("resource_version", sa.Integer, nullable=False),
        sa.Column("sequence_number", sa.Integer),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "event_inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(255), nullable=False, unique=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("cart_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("reason", sa.Text),
    )
    op.create_index("event_inbox_status", "event_inbox", ["status", "id"])
    op.create_index("event_inbox_cart", "event_inbox", ["cart_id"])
    op.create_table(
        "cart_snapshots",
        sa.Column("cart_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("lines", sa.Text, nullable=False),
        sa.Column("checkout_started", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "deletion_requests",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("identity_hash", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text),
    )


def downgrade() -> None:
    for name in ("deletion_requests", "cart_snapshots", "event_inbox", "resource_versions", "processed_messages"):
        op.drop_table(name)
