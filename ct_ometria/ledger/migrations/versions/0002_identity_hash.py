"""Remember a hash of each pushed contact's email, so an email change can go in a payload of its own.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pushed_records", sa.Column("identity_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("pushed_records", "identity_hash")
