"""The Dagster shell: assets, checks, resources, partitions, jobs and schedules. The only package
that imports dagster."""
