"""Index the records Ometria accepted by their commercetools id: a deleted product or customer
finds its records without reading the whole table.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("pushed_records_source", "pushed_records", ["record_type", "source_id"])


def downgrade() -> None:
    op.drop_index("pushed_records_source", table_name="pushed_records")
