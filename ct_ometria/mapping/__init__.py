"""Pure translation from commercetools models to Ometria records: no I/O, no Dagster."""
