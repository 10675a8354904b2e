"""The production deployment files: deploy/dagster.yaml, deploy/helm/values.yaml and deploy/Dockerfile.

deploy/dagster.yaml is loaded into a real DagsterInstance on the test PostgreSQL. The Helm values are
checked against the chart's own values.schema.json (vendored, deploy/helm/README.md), then turned into
the instance config the chart writes from them, which Dagster must accept and which must carry the
same queue, pools, retries and monitoring as deploy/dagster.yaml. helm itself is not run here.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import shutil
import tomllib
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest
import yaml
from dagster import DagsterInstance, Definitions, QueuedRunCoordinator
from dagster._core.instance.config import dagster_instance_config

from ct_ometria import settings
from ct_ometria_tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MODULE = "ct_ometria.definitions"
PORT = 3030
SECRET = "ct-ometria-secrets"
# What the Kubernetes secret SECRET holds: everything that is a credential or embeds one.
SECRET_KEYS = {"CTP_CLIENT_ID", "CTP_CLIENT_SECRET", "OMETRIA_API_KEY", "CT_OMETRIA_DATABASE_URL"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def production() -> dict:
    return load(DEPLOY / "dagster.yaml")


@pytest.fixture(scope="module")
def values() -> dict:
    return load(DEPLOY / "helm" / "values.yaml")


# --- deploy/dagster.yaml ------------------------------------------------------------------------


@pytest.mark.postgres
def test_production_instance_runs_on_postgresql_from_environment(tmp_path, monkeypatch):
    url = urlsplit(POSTGRES_URL)
    env = {
        "DAGSTER_PG_HOST": url.hostname or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USERNAME": unquote(url.username or "postgres"),
        "DAGSTER_PG_PASSWORD": unquote(url.password or ""),
        "DAGSTER_PG_DB": url.path.lstrip("/"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")

    instance = DagsterInstance.from_config(str(home))
    try:
        storage = instance.run_storage
        assert type(storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        # Every connection setting came from the environment.
        pg = urlsplit(storage.postgres_url)
        assert (pg.hostname, pg.port, pg.path.lstrip("/")) == (env["DAGSTER_PG_HOST"], int(env["DAGSTER_PG_PORT"]),
                                                               env["DAGSTER_PG_DB"])  # fmt: skip
        assert unquote(pg.username) == env["DAGSTER_PG_USERNAME"]
        # ... and reach the database: these read Dagster's tables.
        assert instance.get_runs_count() >= 0
        assert instance.event_log_storage.supports_global_concurrency_limits

        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        queue = concurrency.run_queue_config
        assert queue.max_concurrent_runs == 8
        assert [(limit["key"], limit["limit"]) for limit in queue.tag_concurrency_limits] == [("dagster/backfill", 2)]
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_start_timeout_seconds == 300
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0
        assert not instance.telemetry_enabled
    finally:
        instance.dispose()


def test_production_instance_needs_every_connection_variable(production, tmp_path, monkeypatch):
    """No connection setting is written into the file: a missing variable is named at load."""
    postgres_db = production["storage"]["postgres"]["postgres_db"]
    assert {key: value for key, value in postgres_db.items()} == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USERNAME"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
    }
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD"):
        monkeypatch.setenv(name, "x")
    monkeypatch.delenv("DAGSTER_PG_DB", raising=False)
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    with pytest.raises(Exception, match="DAGSTER_PG_DB"):
        DagsterInstance.from_config(str(tmp_path))


def test_pools_named_in_the_instance_are_the_pools_the_assets_use(production):
    """The comment that lists the pools (each limited by default_limit) names exactly those in the code."""
    used = set()
    for source in (ROOT / "ct_ometria" / "defs").glob("*.py"):
        used |= set(re.findall(r'pool="([a-z_]+)"', source.read_text()))
    assert {"commercetools", "ometria"} <= used
    text = (DEPLOY / "dagster.yaml").read_text()
    pools_comment = text[text.index("concurrency:") : text.index("default_limit")]
    assert set(re.findall(r"`([a-z_]+)`", pools_comment)) == used


# --- deploy/helm/values.yaml --------------------------------------------------------------------


def each_object(node, visit) -> None:  # noqa: ANN001
    """``visit`` every JSON object in ``node``, parents before their children."""
    if isinstance(node, dict):
        visit(node)
        for child in list(node.values()):
            each_object(child, visit)
    elif isinstance(node, list):
        for child in node:
            each_object(child, visit)


def chart_schema() -> dict:
    """The chart's values.schema.json, its Kubernetes object $refs (to kubernetesjsonschema.dev, not
    vendored) dropped so that their local constraints (type, additionalProperties) still apply."""
    schema = json.loads((DEPLOY / "helm" / "values.schema.json").read_text())

    def drop_remote_ref(node: dict) -> None:
        if str(node.get("$ref", "")).startswith("http"):
            del node["$ref"]

    each_object(schema, drop_remote_ref)
    return schema


def without_model_required(schema: dict) -> dict:
    """helm validates the chart's defaults merged with these values; the defaults supply the keys a
    model requires. Conditional requirements (a K8sRunLauncher needs its config) are kept."""
    schema = copy.deepcopy(schema)

    def drop_required(node: dict) -> None:
        if "properties" in node:
            node.pop("required", None)

    each_object(schema, drop_required)
    return schema


def strict(schema: dict) -> dict:
    """Every object the chart describes field by field admits only those fields."""
    schema = copy.deepcopy(schema)

    def close(node: dict) -> None:
        if node.get("properties") and "additionalProperties" not in node and "then" not in node:
            node["additionalProperties"] = False

    each_object(schema, close)
    return schema


def errors(schema: dict, instance: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return sorted(
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(instance)
    )


def test_values_match_the_chart_schema(values):
    schema = without_model_required(chart_schema())
    assert errors(schema, values) == []
    # Every key written is one the chart knows (a misspelt key would be ignored by helm).
    assert errors(strict(schema), values) == []


def test_a_misspelt_or_mistyped_value_is_refused(values):
    schema = without_model_required(chart_schema())
    misspelt = copy.deepcopy(values)
    misspelt["runLauncher"]["config"]["k8sRunLauncher"]["envSecret"] = [{"name": SECRET}]
    assert any("envSecret" in error for error in errors(schema, misspelt))
    mistyped = copy.deepcopy(values)
    mistyped["dagster-user-deployments"]["deployments"][0]["port"] = "3030"
    assert errors(schema, mistyped)
    unknown = copy.deepcopy(values)
    unknown["dagster-user-deployments"]["deployments"][0]["grpcArgs"] = ["-m", MODULE]
    assert errors(schema, unknown) == [] and errors(strict(schema), unknown)


def test_user_code_deployment_serves_the_code_location(values):
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert values["dagster-user-deployments"]["enabled"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", MODULE]
    assert deployment["port"] == PORT
    assert deployment["image"]["repository"] and str(deployment["image"]["tag"]) not in ("", "latest")
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert values["runLauncher"]["type"] == "K8sRunLauncher"


def test_secrets_come_from_kubernetes_secrets(values):
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert {"name": SECRET} in deployment["envSecrets"]
    assert {"name": SECRET} in values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    env = deployment["env"]
    assert not SECRET_KEYS & set(env) and not set(settings.SECRET_VARIABLES) & set(env)
    # Every required variable is set, in the clear or from the secret.
    assert settings.missing_variables({**env, **dict.fromkeys(SECRET_KEYS, "from the secret")}) == []
    # The values file says what the secret must hold.
    header = (DEPLOY / "helm" / "values.yaml").read_text().split("\n\n")[0]
    assert all(key in header for key in SECRET_KEYS)
    # The instance database: an external server, its password from dagster-postgresql-secret.
    assert values["postgresql"]["enabled"] is False
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"
    assert "postgresqlPassword" not in values["postgresql"]
    # Files the code reads are where the volumes are mounted.
    mounts = {mount["mountPath"] for mount in deployment["volumeMounts"]}
    assert Path(env["CT_OMETRIA_CONFIG"]).parent.as_posix() in mounts
    assert env["CT_OMETRIA_DATA_DIR"] in mounts


def chart_instance(values: dict) -> dict:
    """The dagster.yaml the chart writes from these values (templates/configmap-instance.yaml and
    templates/helpers/instance/*.tpl), for the parts these values set; the K8sRunLauncher entry is
    left out (dagster-k8s is installed in the image, not in the test environment)."""
    pg = values["postgresql"]
    postgres = {"postgres_db": {"username": pg["postgresqlUsername"], "password": {"env": "DAGSTER_PG_PASSWORD"},
                                "hostname": pg["postgresqlHost"], "db_name": pg["postgresqlDatabase"],
                                "port": pg["service"]["port"], "params": pg["postgresqlParams"]}}  # fmt: skip
    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    names = {"maxConcurrentRuns": "max_concurrent_runs", "tagConcurrencyLimits": "tag_concurrency_limits",
             "dequeueIntervalSeconds": "dequeue_interval_seconds"}  # fmt: skip
    run_coordinator = {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}
    if any(queued.get(camel) for camel in names):
        run_coordinator["config"] = {snake: queued[camel] for camel, snake in names.items() if queued.get(camel)}
    rendered = {
        "scheduler": {"module": "dagster.core.scheduler", "class": "DagsterDaemonScheduler"},
        "schedule_storage": {"module": "dagster_postgres.schedule_storage", "class": "PostgresScheduleStorage",
                             "config": postgres},
        "run_storage": {"module": "dagster_postgres.run_storage", "class": "PostgresRunStorage", "config": postgres},
        "event_log_storage": {"module": "dagster_postgres.event_log", "class": "PostgresEventLogStorage",
                              "config": postgres},
        "run_coordinator": run_coordinator,
        "compute_logs": {"module": "dagster._core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"},
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }  # fmt: skip
    assert values["computeLogManager"]["type"] == "NoOpComputeLogManager"
    if daemon["runMonitoring"]["enabled"]:
        rendered["run_monitoring"] = {"enabled": True}
    if daemon["runRetries"]["enabled"]:
        rendered["run_retries"] = {"enabled": True, "max_retries": daemon["runRetries"]["maxRetries"]}
    for kind in ("sensors", "schedules"):
        if daemon[kind]["useThreads"]:
            rendered[kind] = {"use_threads": True, "num_workers": daemon[kind]["numWorkers"]}
    if values["retention"]["enabled"]:
        rendered["retention"] = {kind: {"purge_after_days": values["retention"][kind]["purgeAfterDays"]}
                                 for kind in ("schedule", "sensor")}  # fmt: skip
    extra = values["additionalInstanceConfig"]
    # A key written twice would make the chart's dagster.yaml ambiguous.
    assert not set(extra) & set(rendered), set(extra) & set(rendered)
    return {**rendered, **extra}


def test_chart_instance_is_valid_and_matches_the_production_instance(values, production, tmp_path):
    rendered = chart_instance(values)
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(rendered))
    dagster_instance_config(str(tmp_path))  # raises on anything Dagster would refuse at start

    for key in ("concurrency", "run_retries", "run_monitoring", "telemetry", "sensors", "schedules"):
        assert rendered[key] == production[key], key
    assert rendered["run_coordinator"]["config"] == production["run_coordinator"]["config"]
    # The chart's sensor retention takes all four tick kinds; those the production file leaves out are kept.
    assert rendered["retention"]["schedule"] == production["retention"]["schedule"]
    sensor_ticks = rendered["retention"]["sensor"]["purge_after_days"]
    assert {kind: days for kind, days in sensor_ticks.items() if days != -1} == {
        kind: days for kind, days in production["retention"]["sensor"]["purge_after_days"].items() if days != -1
    }


def test_run_limits_set_in_both_places_are_refused(values, tmp_path):
    """Dagster refuses queue limits in the run coordinator beside `concurrency` (the chart does too):
    the check above would catch values that set both."""
    both = copy.deepcopy(values)
    both["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] = 8
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(chart_instance(both)))
    with pytest.raises(Exception, match="max_concurrent_runs"):
        dagster_instance_config(str(tmp_path))


# --- deploy/Dockerfile --------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def test_dockerfile_builds_the_code_location_from_the_project_files():
    instructions = dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    copies = [shlex.split(args)[:-1] for op, args in instructions if op == "COPY"]
    sources = [source for group in copies for source in group]
    for source in sources:
        assert (ROOT / source).exists(), source
    (install,) = [args for op, args in instructions if op == "RUN" and "pip install" in args]
    assert re.search(r'pip install -c constraints\.txt "\.\[k8s\]"', install)
    assert {"pyproject.toml", "constraints.txt", "README.md", "ct_ometria"} <= set(sources)

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (k8s,) = project["project"]["optional-dependencies"]["k8s"]
    postgres = next(dep for dep in project["project"]["dependencies"] if dep.startswith("dagster-postgres=="))
    # dagster-k8s moves with the other dagster libraries.
    assert k8s.split("==")[1] == postgres.split("==")[1]
    assert k8s in (ROOT / "constraints.txt").read_text().splitlines()

    (user,) = [args for op, args in instructions if op == "USER"]
    assert user not in ("root", "0")
    (cmd,) = [json.loads(args) for op, args in instructions if op == "CMD"]
    assert cmd[:3] == ["dagster", "api", "grpc"]
    assert cmd[cmd.index("-m") + 1] == MODULE and int(cmd[cmd.index("-p") + 1]) == PORT
    assert ("EXPOSE", str(PORT)) in instructions


def test_the_image_module_is_the_code_location():
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"] == MODULE
    (location,) = load(ROOT / "workspace.yaml")["load_from"]
    assert location["python_module"]["module_name"] == MODULE
    module = __import__(MODULE, fromlist=["defs"])
    assert isinstance(module.defs, Definitions)


def test_dockerignore_keeps_what_the_image_copies():
    rules = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert rules[0] == "*"  # nothing else (.venv, .git, node_modules, test data) reaches the build
    kept = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copies = [shlex.split(args)[:-1] for op, args in dockerfile() if op == "COPY"]
    assert {source.rstrip("/") for group in copies for source in group} <= kept
