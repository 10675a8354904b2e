"""The code location loads, and its graph is what the data team expects."""

import datetime as dt

import pytest

from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterInstance,
    DagsterInvalidConfigError,
    DailyPartitionsDefinition,
    Definitions,
    EnvVar,
    FreshnessPolicy,
    build_schedule_context,
)

from ct_ometria.definitions import defs
from ct_ometria.defs.jobs import SYNC_JOB


def test_full_definitions_load():
    Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    assert {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()} == {
        "ct_customers", "ct_consents", "ct_orders", "ct_products", "ct_categories",
        "ometria_contacts", "ometria_orders", "ometria_products",
        "ometria_contacts_sync", "ometria_products_sync", "ometria_orders_sync", "ometria_reconciliation",
        "ometria_message_events", "ometria_cart_events", "ometria_storefront_events",
    }  # fmt: skip
    assert set(defs.resources) >= {"commercetools", "ometria", "mapping", "frames_io_manager"}


def test_checks_that_guard_the_push_are_blocking():
    graph = defs.get_repository_def().asset_graph
    specs = {key: graph.get_check_spec(key) for key in graph.asset_check_keys}
    blocking = {
        ("ct_customers", "customers_valid"), ("ct_orders", "orders_valid"), ("ct_products", "products_valid"),
        ("ct_categories", "categories_valid"), ("ct_consents", "consents_valid"),
        ("ometria_contacts", "contacts_valid"), ("ometria_orders", "orders_valid"),
        ("ometria_products", "products_valid"),
    }  # fmt: skip
    for asset, check in blocking:
        assert specs[AssetCheckKey(AssetKey(asset), check)].blocking, (asset, check)
    for asset, check in [("ometria_contacts_sync", "contacts_accepted"), ("ometria_orders_sync", "orders_accepted"),
                         ("ometria_products_sync", "products_accepted")]:  # fmt: skip
        assert not specs[AssetCheckKey(AssetKey(asset), check)].blocking


def test_entity_assets_share_one_daily_utc_partitioning_with_week_long_backfill_runs():
    graph = defs.get_repository_def().asset_graph
    entity_keys = [key for key in graph.get_all_asset_keys() if graph.get(key).group_name != "events"]
    partitions = {graph.get(key).partitions_def for key in entity_keys}
    assert len(partitions) == 1
    [daily] = partitions
    assert isinstance(daily, DailyPartitionsDefinition) and daily.timezone == "UTC"
    assert daily.start == dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    for key in entity_keys:
        # sync.days_per_run (7 by default): a backfill of a year is 53 runs, each holding a week.
        assert graph.get(key).backfill_policy.max_partitions_per_run == 7


def test_event_sensors_poll_every_30_seconds_by_default_and_launch_their_jobs():
    repository = defs.get_repository_def()
    sensors = {sensor.name: sensor for sensor in repository.sensor_defs}
    assert {name: (sensor.job_name, sensor.minimum_interval_seconds) for name, sensor in sensors.items()} == {
        "commercetools_messages_sensor": ("commercetools_message_events", 30),
        "commercetools_carts_sensor": ("commercetools_cart_events", 30),
        "storefront_inbox_sensor": ("storefront_events", 30),
    }
    graph = repository.asset_graph
    for name in ("ometria_message_events", "ometria_cart_events", "ometria_storefront_events"):
        node = graph.get(AssetKey(name))
        assert node.partitions_def is None and node.group_name == "events" and len(node.pools) == 1


def test_sync_is_limited_by_the_ometria_pool_and_extraction_by_commercetools():
    graph = defs.get_repository_def().asset_graph
    for name in ("ometria_contacts_sync", "ometria_products_sync", "ometria_orders_sync"):
        assert graph.get(AssetKey(name)).pools == {"ometria"}
    for name in ("ct_customers", "ct_orders", "ct_products", "ct_categories", "ct_consents"):
        assert graph.get(AssetKey(name)).pools == {"commercetools"}


def test_orders_sync_after_products_and_contacts():
    graph = defs.get_repository_def().asset_graph
    parents = graph.get(AssetKey("ometria_orders_sync")).parent_keys
    assert {AssetKey("ometria_products_sync"), AssetKey("ometria_contacts_sync"), AssetKey("ometria_orders")} <= parents


def test_daily_schedule_syncs_the_day_that_ended():
    job = defs.resolve_job_def(SYNC_JOB)
    assert len(job.nodes) == 11
    schedules = {s.name: s for s in defs.get_repository_def().schedule_defs}
    assert schedules["reconcile_ometria_schedule"].cron_schedule == "0 4 * * *"
    schedule = schedules["sync_to_ometria_schedule"]
    assert schedule.cron_schedule == "0 2 * * *"
    context = build_schedule_context(scheduled_execution_time=dt.datetime(2026, 2, 10, 2, 0, tzinfo=dt.timezone.utc))
    [request] = list(schedule.evaluate_tick(context).run_requests)
    assert request.partition_key == "2026-02-09"


def test_secrets_are_environment_references_not_values():
    commercetools = defs.resources["commercetools"]
    ometria = defs.resources["ometria"]
    assert isinstance(commercetools.client_secret, EnvVar) and commercetools.client_secret.env_var_name == "CTP_CLIENT_SECRET"
    assert isinstance(ometria.api_key, EnvVar) and ometria.api_key.env_var_name == "OMETRIA_API_KEY"


def test_a_run_without_its_environment_fails_naming_the_variable(monkeypatch, tmp_path):
    for name in ("CTP_PROJECT_KEY", "CTP_CLIENT_ID", "CTP_CLIENT_SECRET", "CTP_AUTH_URL", "CTP_API_URL", "OMETRIA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CT_OMETRIA_DATA_DIR", str(tmp_path))
    job = defs.resolve_job_def(SYNC_JOB)
    with pytest.raises(DagsterInvalidConfigError) as raised:
        job.execute_in_process(partition_key="2024-05-01", instance=DagsterInstance.ephemeral())
    assert 'environment variable "CTP_PROJECT_KEY" which is not set' in str(raised.value)


def test_the_cli_writes_the_projects_instance_settings():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert (root / "ct_ometria" / "cli" / "instance.yaml").read_text() == (root / "dagster.yaml").read_text()


def test_every_daily_entity_shows_as_late_in_the_ui_when_the_daily_sync_did_not_run():
    graph = defs.resolve_asset_graph()
    policies = {key.to_user_string(): graph.get(key).freshness_policy for key in graph.get_all_asset_keys()}
    daily = {name: policy for name, policy in policies.items() if not name.endswith("_events")}
    assert len(daily) == 12
    for name, policy in daily.items():
        assert policy is not None, name
        assert policy == FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30), warn_window=dt.timedelta(hours=26)), name
    # Event assets materialize only when there are events: a quiet hour is not staleness.
    assert all(policies[name] is None for name in policies if name.endswith("_events"))
