"""Alembic environment; run programmatically by ``ct_ometria.ledger.migrate``."""

from alembic import context

from ct_ometria.ledger.tables import metadata

connection = context.config.attributes["connection"]
schema = context.config.attributes.get("schema")
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table_schema=schema,
    include_schemas=bool(schema),
)
with context.begin_transaction():
    context.run_migrations()
