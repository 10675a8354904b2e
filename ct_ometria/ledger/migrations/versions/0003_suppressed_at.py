"""Remember when a contact was last sent suppressed, so lifting a suppression never revives an
opt-in given before it.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pushed_records", sa.Column("suppressed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("pushed_records", "suppressed_at")
