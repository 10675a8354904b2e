"""workspace.yaml and dagster.yaml load in the real Dagster webserver, which shows the assets."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
QUERY = "{ assetNodes { assetKey { path } groupName hasAssetChecks partitionDefinition { name } } }"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_webserver_loads_the_code_location_and_lists_the_assets(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    webserver = Path(sys.executable).with_name("dagster-webserver")
    process = subprocess.Popen(
        [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "dagster-webserver exited"
            assert time.monotonic() < deadline, "dagster-webserver did not answer in 90 s"
            time.sleep(0.5)
        answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": QUERY}, timeout=60).json()
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    nodes = {tuple(node["assetKey"]["path"]): node for node in answer["data"]["assetNodes"]}
    assert set(nodes) == {
        ("ct_customers",), ("ct_consents",), ("ct_orders",), ("ct_products",), ("ct_categories",),
        ("ometria_contacts",), ("ometria_orders",), ("ometria_products",),
        ("ometria_contacts_sync",), ("ometria_products_sync",), ("ometria_orders_sync",),
    }  # fmt: skip
    assert nodes[("ct_customers",)]["groupName"] == "commercetools"
    assert all(node["hasAssetChecks"] for node in nodes.values())
    assert all(node["partitionDefinition"] is not None for node in nodes.values())
