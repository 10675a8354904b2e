"""``ct-ometria demo``: the whole path on one laptop, with nothing to configure.

Starts the commercetools emulator with a generated sample store and the Ometria sandbox, both on
127.0.0.1, points the environment at them, runs the customers-to-contacts sync through Dagster
for the last few days, prints what arrived, and stops everything it started.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets

import httpx

from ct_ometria.cli.sync import ensure_dagster_home, print_summary, run_sync
from ct_ometria.local.emulator import start_emulator
from ct_ometria.local.sample import sample_customers
from ct_ometria.ometria.sandbox import SandboxConfig, running_sandbox


def demo_command(customers: int = 300, days: int = 3) -> int:
    yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    first_day = yesterday - dt.timedelta(days=days - 1)
    api_key = secrets.token_urlsafe(24)
    emulator = start_emulator()
    try:
        # Two customers carry a malformed email, to show how bad records are set aside.
        emulator.seed(customer=sample_customers(customers, first_day, days, broken_emails=2))
        print(
            f"commercetools emulator on {emulator.base_url} (pid {emulator.pid}): "
            f"{customers} customers over {days} days, 2 with a malformed email"
        )
        with running_sandbox(SandboxConfig(api_keys=[api_key])) as sandbox_url:
            print(f"ometria sandbox on {sandbox_url}")
            os.environ.update(emulator.env())
            os.environ.update({"OMETRIA_API_URL": sandbox_url, "OMETRIA_API_KEY": api_key})
            home = ensure_dagster_home()
            outcome = run_sync(first_day, yesterday)
            print_summary(outcome, first_day, yesterday, home)
            stats = httpx.get(f"{sandbox_url}/__sandbox/stats", headers={"X-Ometria-Auth": api_key}).json()
            print(f"the sandbox now holds {stats['records'].get('contact', 0)} contacts")
            return 0 if outcome.success else 1
    finally:
        emulator.stop()
