"""workspace.yaml and dagster.yaml load in the real Dagster webserver, which shows the assets."""

import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path

import httpx

from ct_ometria.local.process import LocalServer

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"Serving dagster-webserver on (http://127\.0\.0\.1:\d+)")
QUERY = "{ assetNodes { assetKey { path } groupName hasAssetChecks partitionDefinition { name } } }"


def test_webserver_loads_the_code_location_and_lists_the_assets(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    webserver = Path(sys.executable).with_name("dagster-webserver")
    with socket.socket() as probe:  # a free port; dagster-webserver prints its address before it listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = LocalServer(
        [str(webserver), "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        READY, cwd=ROOT, env={**os.environ, "DAGSTER_HOME": str(home)}, timeout=90,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "dagster-webserver never answered"
                time.sleep(0.2)
        answer = httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=60).json()
    finally:
        server.stop()
    nodes = {tuple(node["assetKey"]["path"]): node for node in answer["data"]["assetNodes"]}
    assert set(nodes) == {
        ("ct_customers",), ("ct_consents",), ("ct_orders",), ("ct_products",), ("ct_categories",),
        ("ometria_contacts",), ("ometria_orders",), ("ometria_products",),
        ("ometria_contacts_sync",), ("ometria_products_sync",), ("ometria_orders_sync",), ("ometria_reconciliation",),
        ("ometria_message_events",), ("ometria_cart_events",), ("ometria_storefront_events",),
    }  # fmt: skip
    assert nodes[("ct_customers",)]["groupName"] == "commercetools"
    assert all(node["hasAssetChecks"] for node in nodes.values())
    assert all((node["partitionDefinition"] is None) == (node["groupName"] == "events") for node in nodes.values())
