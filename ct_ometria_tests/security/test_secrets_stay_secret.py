"""No secret reaches anything an operator or a log collector reads, and personal data stays out of it.

Real runs against the emulator, a sandbox of this module's own and PostgreSQL, with distinctive
secrets: the commercetools client secret, the Ometria API key (and a wrong one: a mistyped key is
still a key), and passwords in the ledger's and the Dagster instance's database URLs. The runs cover
the paths that carry exceptions: Ometria refusing the key, commercetools refusing the credentials,
the ledger's database unreachable; and the paths that succeed: a dry run, a sync, the dead-letter
list. Captured: every process's stdout and stderr, every Python log record of the in-process runs
(down to DEBUG), every Dagster event of those runs (messages, errors with their stacks and causes,
materialization and check metadata), the runs' config and tags, the files under DAGSTER_HOME and
the data folder, the ledger's tables, and what dagster-webserver serves over GraphQL (runs, run
config, event logs, metadata, resources, instance). Each secret is searched raw, URL-encoded,
base64-encoded, JSON-escaped, and as the commercetools basic-auth header (``client_id:secret``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
import yaml
from dagster import DagsterInstance, materialize
from dagster._serdes import serialize_value
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

# Imported before any test changes the environment: the code location reads some settings at import.
from ct_ometria.definitions import ASSETS, build_resources
from ct_ometria.local.sample import customer_document
from ct_ometria_tests.pipeline import commerce_data as data
from ct_ometria_tests.servers import SandboxProcess, running_webserver, start_sandbox_process

ROOT = Path(__file__).resolve().parents[2]
BASE_PG_URL = os.environ.get("CT_OMETRIA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DAY = data.DAY
TOKEN = secrets.token_hex(6)

CLIENT_ID = f"ct-client-{TOKEN}"
CT_SECRET = f"ctS3cr3t-{TOKEN}-Qx"
OMETRIA_KEY = f"omK3y-{TOKEN}-Zv"
WRONG_KEY = f"omWr0ng-{TOKEN}-Jk"
# Characters a URL must encode, so the encoded form differs from the raw one.
LEDGER_PASSWORD = f"pgL3dg/{TOKEN}+x"
DAGSTER_PASSWORD = f"pgD4g/{TOKEN}+y"
SECRETS = {"CTP_CLIENT_SECRET": CT_SECRET, "OMETRIA_API_KEY": OMETRIA_KEY, "wrong OMETRIA_API_KEY": WRONG_KEY,
           "ledger database password": LEDGER_PASSWORD, "Dagster database password": DAGSTER_PASSWORD}  # fmt: skip

# Shoppers whose personal data must stay out of logs, metadata and the UI (README: previews show
# ids, dead letters are listed without payloads, dry-run samples are masked, reasons name the field).
ZEB_EMAIL = f"  Zebulon.Quiggleworth-{TOKEN}@Example.ORG "
FENNA_EMAIL = f"fenna.vandervloedt-{TOKEN}@example.net"
BROKEN_EMAIL = f"odalys.brakeveld-{TOKEN}.at.example.net"
PEOPLE = [
    customer_document("cust-zeb", ZEB_EMAIL, dt.datetime(2024, 5, 2, 8, tzinfo=dt.UTC),
                      first_name="Zebulon", last_name="Quiggleworth", country="GB", stores=["uk-store"],
                      addresses=[{"id": "addr-cust-zeb", "country": "GB", "mobile": "07911 123456",
                                  "streetName": "Quiggleworth Mews", "postalCode": "SW1A 1AA"}]),
    customer_document("cust-fenna", FENNA_EMAIL, dt.datetime(2024, 5, 2, 9, tzinfo=dt.UTC),
                      first_name="Fenna", last_name="Vandervloedt", country="NL", stores=["nl-store"],
                      addresses=[{"id": "addr-cust-fen", "country": "NL", "phone": "06 2345 6789"}]),
    customer_document("cust-broken", BROKEN_EMAIL, dt.datetime(2024, 5, 2, 10, tzinfo=dt.UTC),
                      first_name="Odalys", last_name="Brakeveld"),
]  # fmt: skip
PERSONAL = {
    "email": [ZEB_EMAIL.strip(), ZEB_EMAIL.strip().lower(), FENNA_EMAIL, BROKEN_EMAIL, "guest.shopper@example.com"],
    "phone": ["07911 123456", "+447911123456", "06 2345 6789", "+31623456789"],
    "name": ["Quiggleworth", "Vandervloedt", "Brakeveld"],
}


def forms(secret: str) -> set[str]:
    """The ways a secret can leak: as it is, URL-encoded, base64-encoded, JSON-escaped."""
    return {secret, quote(secret, safe=""), quote_plus(secret), base64.b64encode(secret.encode()).decode(),
            json.dumps(secret)[1:-1]}  # fmt: skip


NEEDLES = {f"{name} ({form!r})": form for name, secret in SECRETS.items() for form in forms(secret)}
# commercetools' token request carries `Authorization: Basic base64(client_id:secret)`.
NEEDLES["commercetools basic auth"] = base64.b64encode(f"{CLIENT_ID}:{CT_SECRET}".encode()).decode()


def pg_url(password: str, port: int | None = None) -> str:
    url = make_url(BASE_PG_URL).set(password=password)
    if port is not None:
        url = url.set(port=port)
    return url.render_as_string(hide_password=False)


class Haystack:
    """Everything captured, by where it came from."""

    def __init__(self) -> None:
        self.places: dict[str, list[str]] = {}

    def add(self, place: str, *texts: object) -> None:
        self.places.setdefault(place, []).extend(str(t) for t in texts if t is not None)

    def find(self, needles: dict[str, str], places: Iterable[str] | None = None) -> list[str]:
        """One line per needle and place it was found in, with its context."""
        found = {}
        for place, texts in self.places.items():
            if places is not None and not any(place.startswith(p) for p in places):
                continue
            for text_ in texts:
                for name, needle in needles.items():
                    if needle in text_ and (name, place) not in found:
                        at = text_.index(needle)
                        found[(name, place)] = f"{name} in {place}: ...{text_[max(0, at - 200): at + 80]!r}"
        return list(found.values())

    def size(self, place: str) -> int:
        return sum(len(t) for p, texts in self.places.items() if p.startswith(place) for t in texts)


@pytest.fixture(scope="module")
def own_sandbox() -> Iterator[SandboxProcess]:
    """A sandbox whose only key is this module's distinctive secret."""
    server = start_sandbox_process(OMETRIA_KEY)
    yield server
    server.stop()


@pytest.fixture
def secret_env(emulator, own_sandbox, tmp_path, monkeypatch, ledger_schema) -> dict[str, str]:
    """The environment of every process and in-process run here: every secret distinctive."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(data.MAPPING))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CTP_", "OMETRIA_", "CT_OMETRIA_"))}
    env.update(emulator.env())
    env.update(
        {
            "CTP_CLIENT_ID": CLIENT_ID,
            "CTP_CLIENT_SECRET": CT_SECRET,
            "OMETRIA_API_KEY": OMETRIA_KEY,
            "OMETRIA_API_URL": own_sandbox.base_url,
            "DAGSTER_HOME": str(home),
            "CT_OMETRIA_DAGSTER_PG_URL": pg_url(DAGSTER_PASSWORD),
            "CT_OMETRIA_DATA_DIR": str(tmp_path / "data"),
            "CT_OMETRIA_DATABASE_URL": pg_url(LEDGER_PASSWORD),
            "CT_OMETRIA_DATABASE_SCHEMA": ledger_schema,
            "CT_OMETRIA_CONFIG": str(mapping),
        }
    )
    for key in [k for k in os.environ if k.startswith(("CTP_", "OMETRIA_", "CT_OMETRIA_"))]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def seed(emulator) -> None:
    data.seed(emulator)
    emulator.seed(customer=PEOPLE)


def ct_ometria(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ct_ometria.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def run_ids(stdout: str) -> list[str]:
    return re.findall(r"^run (\S+) (?:succeeded|FAILED)", stdout, re.MULTILINE)


class Records(logging.Handler):
    """Every log record of every logger, formatted with its exception and stack."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        found = []
        for record in self.records:
            try:
                found.append(self.format(record))
            except Exception as error:  # noqa: BLE001  # a record that cannot format still shows its parts
                found.append(f"{record.name} {record.msg!r} {record.args!r} {error!r}")
            found.append(repr(getattr(record, "__dict__", {})))
        return found


def in_process_run(instance: DagsterInstance, partition_key: str):
    """The sync's assets with the resources the code location builds from the environment (EnvVars)."""
    assets = [a for a in ASSETS if a.key.to_user_string() != "ometria_reconciliation" and a.partitions_def is not None]
    return materialize(assets, partition_key=partition_key, resources=build_resources(), instance=instance,
                       raise_on_error=False)  # fmt: skip


def test_no_secret_reaches_logs_events_metadata_files_or_the_ui_and_no_personal_data_reaches_logs(
    emulator, own_sandbox, secret_env, monkeypatch, capfd, tmp_path
):
    seed(emulator)
    hay = Haystack()
    runs: dict[str, str] = {}  # run id -> what it was

    def cli(what: str, *args: str) -> subprocess.CompletedProcess:
        done = ct_ometria(secret_env, *args)
        hay.add(f"stdout of ct-ometria {what}", done.stdout)
        hay.add(f"stderr of ct-ometria {what}", done.stderr)
        for run_id in run_ids(done.stdout):
            runs[run_id] = what
        return done

    # A dry run: sample payloads printed, personal fields masked.
    done = cli("sync --dry-run", "sync", "--start", DAY, "--end", DAY, "--dry-run")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "would send" in done.stdout

    # In this process, with every log record kept: Ometria refuses a wrong key, then commercetools
    # refuses the credentials.
    handler = Records()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with DagsterInstance.from_config(secret_env["DAGSTER_HOME"]) as instance:
            monkeypatch.setenv("OMETRIA_API_KEY", WRONG_KEY)
            refused_key = in_process_run(instance, DAY)
            monkeypatch.setenv("OMETRIA_API_KEY", OMETRIA_KEY)
            emulator.fault("/oauth/token", status=401, code="invalid_client", times=1000)
            refused_credentials = in_process_run(instance, DAY)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    assert not refused_key.success and not refused_credentials.success
    runs[refused_key.run_id] = "in-process run with a wrong Ometria key"
    runs[refused_credentials.run_id] = "in-process run with commercetools refusing the credentials"
    hay.add("Python log records of the in-process runs", *handler.texts())
    emulator.clear()  # drops the fault
    seed(emulator)

    # The ledger's database unreachable: its URL (with the password) goes to the driver and fails.
    unreachable = {**secret_env, "CT_OMETRIA_DATABASE_URL": pg_url(LEDGER_PASSWORD, port=1)}
    done = ct_ometria(unreachable, "sync", "--start", DAY, "--end", DAY)
    hay.add("stdout of ct-ometria sync (ledger unreachable)", done.stdout)
    hay.add("stderr of ct-ometria sync (ledger unreachable)", done.stderr)
    runs.update({run_id: "sync with the ledger unreachable" for run_id in run_ids(done.stdout)})
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]

    # A real sync, then the dead letters it parked.
    done = cli("sync", "sync", "--start", DAY, "--end", DAY)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(own_sandbox.records("contact")) >= 3
    listed = cli("dead-letters list", "dead-letters", "list")
    assert listed.returncode == 0 and "cust-broken" in listed.stdout
    captured = capfd.readouterr()
    hay.add("stdout of this process", captured.out)
    hay.add("stderr of this process", captured.err)

    # Dagster's own record of every run: events (errors with stacks and causes, metadata), config, tags.
    assert len(runs) == 5, runs
    with DagsterInstance.from_config(secret_env["DAGSTER_HOME"]) as instance:
        for run_id, what in runs.items():
            run = instance.get_run_by_id(run_id)
            hay.add(f"run record of {what}", serialize_value(run), repr(run.run_config), repr(run.tags))
            for entry in instance.all_logs(run_id):
                hay.add(f"Dagster event log of {what}", serialize_value(entry), entry.user_message,
                        repr(entry.dagster_event))  # fmt: skip
    failures = [t for p, texts in hay.places.items() if p.startswith("Dagster event log") for t in texts
                if "STEP_FAILURE" in t or "RUN_FAILURE" in t]  # fmt: skip
    assert any("OMETRIA_API_KEY" in t for t in failures), "the wrong key's failure was not captured"
    assert any("CTP_CLIENT_SECRET" in t for t in failures), "the refused credentials' failure was not captured"
    assert any("Connection refused" in t for t in hay.places["Dagster event log of sync with the ledger unreachable"])
    assert any("ct_ometria/commercetools/auth.py" in t for t in failures), "the stacks were not captured"

    # The UI: dagster-webserver on this instance, asked what it shows for these runs.
    ui = webserver_views(secret_env, list(runs))
    for place, text_ in ui.items():
        hay.add(f"dagster-webserver {place}", text_)

    # Files the runs wrote (compute logs, instance storage, Parquet) and the ledger's tables.
    for folder in (secret_env["DAGSTER_HOME"], secret_env["CT_OMETRIA_DATA_DIR"]):
        for path in Path(folder).rglob("*"):
            if path.is_file():
                hay.add(f"file {path.relative_to(tmp_path)}", path.read_bytes().decode("utf-8", "replace"))
    engine = create_engine(BASE_PG_URL)
    schema = secret_env["CT_OMETRIA_DATABASE_SCHEMA"]
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names(schema=schema):
            rows = connection.execute(text(f'SELECT t::text FROM {schema}."{table}" t')).scalars().all()
            hay.add(f"ledger table {table}", *rows)
    engine.dispose()

    assert hay.size("dagster-webserver") > 10_000 and hay.size("Dagster event log") > 10_000
    leaks = hay.find(NEEDLES)
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks[:20])

    # Personal data: never in what operators read (process output, log records of the project and
    # Dagster, Dagster's events and compute logs, the UI). The Parquet files and the ledger hold it by design.
    people = {f"{kind} {value!r}": value for kind, values in PERSONAL.items() for value in values}
    readable = ("stdout", "stderr", "Dagster event log", "run record", "dagster-webserver", "file dagster_home")
    exposed = hay.find(people, readable)
    project_records = [
        handler.format(r) for r in handler.records if r.name.startswith(("ct_ometria", "dagster")) or r.name == "root"
    ]
    record_hay = Haystack()
    record_hay.add("Python log records (project and Dagster)", *project_records)
    exposed += record_hay.find(people)
    assert not exposed, "personal data exposed:\n" + "\n".join(exposed[:20])


ERROR = "fragment Err on PythonError { message stack className causes { message stack className } }"
METADATA = """fragment Meta on MetadataEntry { label description __typename
  ... on TextMetadataEntry { text } ... on MarkdownMetadataEntry { mdStr } ... on JsonMetadataEntry { jsonString }
  ... on PathMetadataEntry { path } ... on UrlMetadataEntry { url } ... on IntMetadataEntry { intRepr }
  ... on FloatMetadataEntry { floatRepr } ... on BoolMetadataEntry { boolValue }
  ... on TableMetadataEntry { table { records } } }"""
RUN = """query Run($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run {
  runId status jobName runConfigYaml tags { key value }
} } }"""
LOGS = """query Logs($runId: ID!) { logsForRun(runId: $runId, limit: 100000) { __typename
  ... on EventConnection { events { __typename
    ... on MessageEvent { message level stepKey }
    ... on ExecutionStepFailureEvent { error { ...Err } failureMetadata { metadataEntries { ...Meta } } }
    ... on RunFailureEvent { pipelineFailureError: error { ...Err } }
    ... on EngineEvent { engineError: error { ...Err } metadataEntries { ...Meta } }
    ... on ResourceInitFailureEvent { resourceError: error { ...Err } metadataEntries { ...Meta } }
    ... on MaterializationEvent { metadataEntries { ...Meta } }
    ... on ObservationEvent { metadataEntries { ...Meta } }
    ... on HandledOutputEvent { metadataEntries { ...Meta } }
    ... on LoadedInputEvent { metadataEntries { ...Meta } }
    ... on StepExpectationResultEvent { expectationResult { metadataEntries { ...Meta } } }
    ... on AssetCheckEvaluationEvent { evaluation { metadataEntries { ...Meta } description } }
  } }
  ... on PythonError { ...Err }
} }""" + ERROR + METADATA
RESOURCES = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on RepositoryLocation { repositories { name
    allTopLevelResourceDetails { name description configuredValues { key value type } }
  } } ... on PythonError { message } }
} } } instance { info } }"""


def webserver_views(env: dict[str, str], ids: list[str]) -> dict[str, str]:
    """What dagster-webserver serves about the instance under ``env["DAGSTER_HOME"]`` and the runs ``ids``."""
    views: dict[str, str] = {}
    with running_webserver(env) as (base, server):

        def ask(query: str, **variables: str) -> dict:
            answer = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables}, timeout=120).json()
            assert "errors" not in answer, answer["errors"]
            return answer["data"]

        resources = ask(RESOURCES)
        [entry] = resources["workspaceOrError"]["locationEntries"]
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        configured = {r["name"]: r["configuredValues"] for repo in entry["locationOrLoadError"]["repositories"]
                      for r in repo["allTopLevelResourceDetails"]}  # fmt: skip
        # The secrets are shown as the variables that hold them.
        assert {"key": "client_secret", "value": "CTP_CLIENT_SECRET", "type": "ENV_VAR"} in configured["commercetools"]
        assert {"key": "api_key", "value": "OMETRIA_API_KEY", "type": "ENV_VAR"} in configured["ometria"]
        views["resources and instance"] = json.dumps(resources)
        for run_id in ids:
            run = ask(RUN, runId=run_id)
            assert run["runOrError"]["__typename"] == "Run", run
            views[f"run {run_id}"] = json.dumps(run)
            logs = ask(LOGS, runId=run_id)
            assert logs["logsForRun"]["__typename"] == "EventConnection", logs
            views[f"event log of run {run_id}"] = json.dumps(logs)
    views["output"] = "".join(server.lines)
    return views
