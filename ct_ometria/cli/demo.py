"""``ct-ometria demo``: the whole product on one laptop, with nothing to configure.

Starts the commercetools emulator with the demo store (``ct_ometria/local/demo_store.py``: two
stores and currencies, products in two locales, guests, refunds, cancellations, opt-ins and
opt-outs, two customers with a malformed email) and the Ometria sandbox, both on 127.0.0.1, and
points the environment at them. Then either

- (default) starts Dagster (``dagster dev``: the UI on 127.0.0.1:3000 and the daemon) on a SQLite
  instance under ``./.dagster_home``, launches a backfill of ``sync_to_ometria`` over the demo's
  days as the UI's "Launch backfill" does, and keeps everything up until Ctrl-C; or
- (``--headless``) runs ``sync_to_ometria`` over those days in this process, prints what each step
  read, mapped and pushed and what the sandbox holds, and exits.

Ctrl-C (or SIGTERM) stops everything it started.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from ct_ometria.cli.sync import ensure_dagster_home, print_summary, run_sync
from ct_ometria.errors import ConfigError
from ct_ometria.local.demo_store import DEMO_MAPPING, DemoStore
from ct_ometria.local.emulator import start_emulator
from ct_ometria.ometria.sandbox import SandboxConfig, running_sandbox

LOCATION = "ct_ometria.definitions"
BACKFILL = """mutation($names: [String!]!) {
  launchPartitionBackfill(backfillParams: {selector: {partitionSetName: "sync_to_ometria_partition_set",
      repositorySelector: {repositoryName: "__repository__", repositoryLocationName: "%s"}},
      partitionNames: $names, fromFailure: false}) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
  }
}""" % LOCATION


def demo_command(customers: int = 300, days: int = 3, headless: bool = False, port: int = 3000) -> int:
    if customers < 10 or not 1 <= days <= 366:
        raise ConfigError(f"the demo needs --customers of at least 10 and --days in 1..366, got {customers} and {days}")
    if not headless:
        _check_free(port)
    yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    first_day = yesterday - dt.timedelta(days=days - 1)
    api_key = secrets.token_urlsafe(24)
    # Stopped like Ctrl-C, also when its terminal closes: the finally blocks stop the servers.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    # Ctrl-C even when started with SIGINT ignored (a background job): the handler, unlike an ignored
    # signal, is not inherited by dagster dev, which then stops on the SIGINT passed on to it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    emulator = start_emulator()
    try:
        store = DemoStore(first_day, days, customers)
        documents = store.documents()
        emulator.seed(**documents)
        print(f"commercetools emulator on {emulator.base_url} (pid {emulator.pid}): {len(documents['customer'])} customers "
              f"(2 with a malformed email), {len(documents['order'])} orders in GBP and EUR, "
              f"{len(documents['product'])} products in en-GB and nl-NL, over {days} days from {first_day}", flush=True)  # fmt: skip
        with running_sandbox(SandboxConfig(api_keys=[api_key])) as sandbox_url:
            print(f"ometria sandbox on {sandbox_url}", flush=True)
            home = ensure_dagster_home()
            mapping = Path(home, "demo-mapping.yaml")
            # The partitions start on the demo's first day, so the UI shows its days filled, not years missing.
            config = {**DEMO_MAPPING, "sync": {**DEMO_MAPPING["sync"], "start_date": first_day.isoformat()}}
            mapping.write_text(yaml.safe_dump(config, sort_keys=False))
            os.environ.update(emulator.env())
            # A ledger of the demo's own, new each time: the sandbox starts empty, so nothing is "already sent".
            ledger = Path(home, "demo-ledger.db")
            for path in Path(home).glob("demo-ledger.db*"):  # with its rate bucket, lock and journal files
                path.unlink()
            os.environ.update({"OMETRIA_API_URL": sandbox_url, "OMETRIA_API_KEY": api_key, "CT_OMETRIA_CONFIG": str(mapping),
                               "CT_OMETRIA_DATABASE_URL": f"sqlite:///{ledger}"})  # fmt: skip
            if headless:
                outcome = run_sync(first_day, yesterday)
                print_summary(outcome, first_day, yesterday, home)
                print(_held(sandbox_url, api_key))
                return 0 if outcome.success else 1
            return _serve(home, port, first_day, yesterday, sandbox_url, api_key)
    except KeyboardInterrupt:
        print("stopped")
        return 130
    finally:
        emulator.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _held(sandbox_url: str, api_key: str) -> str:
    stats = httpx.get(f"{sandbox_url}/__sandbox/stats", headers={"X-Ometria-Auth": api_key}, timeout=30).json()
    records = stats["records"]
    return (f"the sandbox now holds {records.get('contact', 0)} contacts, {records.get('order', 0)} orders and "
            f"{records.get('product', 0)} products")  # fmt: skip


def _serve(home: str, port: int, first: dt.date, last: dt.date, sandbox_url: str, api_key: str) -> int:
    """``dagster dev`` on 127.0.0.1:``port``, a backfill of the demo's days, and wait for Ctrl-C."""
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-m", LOCATION, "-h", "127.0.0.1", "-p", str(port)]
    # Its own process group: Ctrl-C reaches it once, from here, and everything it started stops with it.
    process = subprocess.Popen(command, env=os.environ.copy(), start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while not _answers(base):
            if process.poll() is not None:
                print(f"dagster dev ended (exit {process.returncode}) before it served {base}", file=sys.stderr)
                return 1
            if time.monotonic() > deadline:
                print(f"dagster dev did not serve {base} within 3 minutes", file=sys.stderr)
                return 1
            time.sleep(0.5)
        names = [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
        answer = httpx.post(f"{base}/graphql", json={"query": BACKFILL, "variables": {"names": names}}, timeout=120).json()
        launched = (answer.get("data") or {}).get("launchPartitionBackfill") or {}
        if launched.get("__typename") == "LaunchBackfillSuccess":
            print(f"backfill {launched['backfillId']} of sync_to_ometria launched for {first} .. {last}: "
                  f"{base}/overview/backfills/{launched['backfillId']}", flush=True)  # fmt: skip
        else:
            print(f"could not launch the backfill ({launched.get('message') or answer.get('errors')}); "
                  "launch it from the UI: Jobs > sync_to_ometria > Materialize all", file=sys.stderr)  # fmt: skip
        print(f"Dagster UI on {base} (dagster dev pid {process.pid}, DAGSTER_HOME={home}): watch the assets, partitions, "
              "checks and metadata fill in; Ctrl-C stops Dagster, the sandbox and the emulator", flush=True)  # fmt: skip
        while process.poll() is None:
            time.sleep(1)
        return process.returncode or 0
    except KeyboardInterrupt:
        print(_held(sandbox_url, api_key))
        raise
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    """SIGINT to dagster dev's process group (webserver, daemon, code server, runs), as Ctrl-C would;
    whatever is left after 30 s is killed. A second Ctrl-C does not cut this short."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    group = process.pid
    if process.poll() is None:
        os.killpg(group, signal.SIGINT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        process.poll()
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _check_free(port: int) -> None:
    """Refuse a port something already serves: the backfill would go to that server's instance."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ConfigError(f"127.0.0.1:{port} is in use (another Dagster UI?): stop it or pass --port") from None


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/server_info", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
