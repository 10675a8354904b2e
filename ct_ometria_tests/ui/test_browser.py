"""The Dagster UI in a real browser: headless Chromium (Debian ``chromium`` and ``chromium-driver``,
driven by selenium) on dagster-webserver over the instance ``ct-ometria demo --headless`` leaves behind.

The graph shows every asset; ``ometria_contacts_sync``'s partitions page shows the demo's days
materialized with the metadata the demo printed; its checks page shows ``contacts_accepted`` passed
with its metadata. Screenshots are kept in ``.ui-screenshots/`` (and the test's tmp folder)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ct_ometria_tests.servers import running_webserver

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = ROOT / ".ui-screenshots"
WAIT = 60  # seconds for a page of the React app to render its data
ASSETS = {
    "ct_customers", "ct_consents", "ct_orders", "ct_products", "ct_categories",
    "ometria_contacts", "ometria_orders", "ometria_products",
    "ometria_contacts_sync", "ometria_products_sync", "ometria_orders_sync", "ometria_reconciliation",
    "ometria_message_events", "ometria_cart_events", "ometria_storefront_events",
}  # fmt: skip
GROUPS = ("commercetools", "events", "ometria", "reconciliation")
# What the UI shows when a query fails, the code location does not load, or an asset does not exist.
ERRORS = ("Unexpected GraphQL error", "No assets were found", "Asset not found", "Error loading", "Could not load",
          "An error occurred", "Unable to load", "Code location error", "Location error", "failed to load",
          "This graph is empty")  # fmt: skip
# The text of a metadata row: the key in the first cell, the value in the second (asset and check metadata).
METADATA = """
const rows = [...document.querySelectorAll('tr')].filter(r => r.cells.length >= 2 && r.cells[0].innerText.trim() === arguments[0]);
return rows.map(r => r.cells[1].innerText.trim());
"""

LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name
    locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

pytestmark = pytest.mark.browser


@dataclass
class Demo:
    home: Path
    days: list[str]
    sync: dict[str, str]  # ometria_contacts_sync's counts as the demo printed them
    check: str  # contacts_accepted's description as the demo printed it


@dataclass
class Browser:
    driver: object
    base: str
    shots: Path
    server_lines: list[str]

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def text(self) -> str:
        return self.driver.execute_script("return document.body ? document.body.innerText : ''")

    def wait_for(self, name: str, ready, what: str):
        """Wait until ``ready(self)`` returns a truthy value (returned); fail at once on an error page."""
        deadline = time.monotonic() + WAIT
        while True:
            text = self.text()
            shown = [error for error in ERRORS if error.lower() in text.lower()]
            if shown:
                self.screenshot(f"failed-{name}")
                pytest.fail(f"{self.driver.current_url} shows {shown}:\n{text[:3000]}")
            value = ready(self)
            if value:
                return value
            if time.monotonic() > deadline:
                self.screenshot(f"failed-{name}")
                pytest.fail(f"{self.driver.current_url}: {what} did not render within {WAIT}s:\n{text[:3000]}\n"
                            "webserver:\n" + "".join(self.server_lines[-20:]))  # fmt: skip
            time.sleep(0.25)

    def metadata(self, key: str) -> list[str]:
        return self.driver.execute_script(METADATA, key)

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copy(path, SCREENSHOTS / path.name)
        return path


def demo_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(("CTP_", "OMETRIA_", "CT_OMETRIA_", "DAGSTER_"))}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    """``ct-ometria demo --headless``: real runs on a SQLite instance in ``.dagster_home``."""
    folder = tmp_path_factory.mktemp("demo")
    done = subprocess.run([sys.executable, "-m", "ct_ometria.cli", "demo", "--headless", "--customers", "40", "--days", "2"],
                          cwd=folder, env=demo_env(), capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    first = dt.date.fromisoformat(re.search(r"over 2 days from (\d{4}-\d{2}-\d{2})", done.stdout).group(1))
    days = [(first + dt.timedelta(days=n)).isoformat() for n in range(2)]
    line = re.search(r"^\s*ometria_contacts_sync\s+(.*)$", done.stdout, re.MULTILINE).group(1)
    check = re.search(r"check ometria_contacts_sync:contacts_accepted\s+passed: (.*)$", done.stdout, re.MULTILINE).group(1)
    return Demo(home=folder / ".dagster_home", days=days, sync=dict(pair.split("=") for pair in line.split()), check=check)


@pytest.fixture(scope="module")
def browser(demo: Demo, tmp_path_factory) -> Iterator[Browser]:
    for program in (CHROMIUM, CHROMEDRIVER):
        if not os.access(program, os.X_OK):
            pytest.fail(f"{program} is missing: install the Debian packages chromium and chromium-driver (.ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # Only what the code location reads when it loads: the instance and the demo's mapping (the
    # commercetools and Ometria settings are EnvVars, read when a run starts).
    env = {**demo_env(), "DAGSTER_HOME": str(demo.home), "CT_OMETRIA_CONFIG": str(demo.home / "demo-mapping.yaml")}
    shots = tmp_path_factory.mktemp("screenshots")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # the last run's screenshots only
    with running_webserver(env) as (base, server):
        # A code location that fails to load only shows on the Deployment page; name its error here.
        answer = httpx.post(f"{base}/graphql", json={"query": LOCATIONS}, timeout=60).json()
        [entry] = answer["data"]["workspaceOrError"]["locationEntries"]
        loaded = entry["locationOrLoadError"]
        assert loaded["__typename"] == "RepositoryLocation", f"{entry['name']} did not load: {loaded.get('message')}"
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            # The "Join the Dagster community" dialog covers the page on 127.0.0.1 until dismissed;
            # dismissed in this browser only, as its Skip button would also record it in the instance.
            driver.get(f"{base}/server_info")
            driver.execute_script("localStorage.setItem('communityNux', JSON.stringify('1'))")
            yield Browser(driver=driver, base=base, shots=shots, server_lines=server.lines)
        finally:
            driver.quit()
    print(f"\nscreenshots: {shots} and {SCREENSHOTS}")


def shown_as(label: str, name: str) -> bool:
    """The graph shortens long names in the middle: ``ometria_orde…_sync``."""
    if label == name:
        return True
    head, ellipsis, tail = label.partition("…")
    return bool(ellipsis) and len(head) + len(tail) < len(name) and name.startswith(head) and name.endswith(tail)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1600 and height > 500, f"{path} is {width}x{height}"
    assert len(data) > 20_000, f"{path} is {len(data)} bytes: a blank page?"


def test_the_asset_graph_shows_every_asset_in_its_group(browser: Browser):
    expanded = ",".join(f"global@global:{group}" for group in GROUPS)
    browser.open(f"/asset-groups?expanded={expanded}")

    def labels(b: Browser) -> list[str]:
        found = b.driver.execute_script(
            "return [...document.querySelectorAll('[class*=AssetNode_assetName]')].map(e => e.textContent.trim())")
        return found if len(found) >= len(ASSETS) else []

    shown = browser.wait_for("asset-graph", labels, f"{len(ASSETS)} asset nodes")
    unmatched = {name for name in ASSETS if sum(shown_as(label, name) for label in shown) != 1}
    assert not unmatched and len(shown) == len(ASSETS), f"graph nodes {shown}; not shown once: {unmatched}"
    assert {"ct_customers", "ometria_orders"} <= set(shown)
    for group in GROUPS:
        assert group in browser.text()
    assert_png(browser.screenshot("asset-graph"))


def test_the_ometria_group_shows_each_asset_with_its_check_passed(browser: Browser):
    browser.open("/locations/ct_ometria/asset-groups/ometria/lineage")
    sync_assets = ("ometria_contacts_sync", "ometria_products_sync", "ometria_orders_sync")
    browser.wait_for("asset-group", lambda b: all(name in b.text() for name in sync_assets) and "Passed" in b.text(),
                     "the ometria group's sync assets and their checks")  # fmt: skip
    text = browser.text()
    assert "Failed" not in text.replace("Failed (0)", "")
    assert text.count("1 / 1 Passed") >= 3, text[:3000]
    assert_png(browser.screenshot("asset-group-ometria"))


def test_a_sync_assets_partitions_page_shows_the_days_and_their_metadata(browser: Browser, demo: Demo):
    last = demo.days[-1]
    browser.open(f"/assets/ometria_contacts_sync?view=partitions&partition={last}")
    browser.wait_for("partitions", lambda b: b.metadata("pushed"), "the partition's metadata")
    text = browser.text()
    assert "ometria_contacts_sync" in text
    assert f"Materialized ({len(demo.days)})" in text and "Failed (0)" in text, text[:3000]
    assert all(day in text for day in demo.days)
    # The selected day, materialized by the demo's run, with the counts the demo printed.
    assert re.search(rf"^{last}\s*\nMaterialized$", text, re.MULTILINE), text[:3000]
    assert "sync_to_ometria" in text
    for key in ("new", "pushed", "accepted", "rejected", "requests"):
        assert browser.metadata(key) == [demo.sync[key]], (key, browser.metadata(key), demo.sync)
    assert int(demo.sync["pushed"]) > 0
    assert_png(browser.screenshot("partitions"))


def test_a_sync_assets_checks_page_shows_its_check_passed_with_metadata(browser: Browser, demo: Demo):
    browser.open("/assets/ometria_contacts_sync?view=checks")
    browser.wait_for("checks", lambda b: demo.check in b.text(), "contacts_accepted's latest execution")
    text = browser.text()
    assert "contacts_accepted" in text
    assert re.search(r"Evaluation result\s*\nPassed", text), text[:3000]
    assert browser.metadata("accepted") == [demo.sync["accepted"]]
    assert browser.metadata("rejected") == [demo.sync["rejected"]]
    assert_png(browser.screenshot("checks"))
