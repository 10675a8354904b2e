"""workspace.yaml and dagster.yaml load in the real Dagster webserver, which shows the assets."""

import os
import shutil
from pathlib import Path

import httpx

from ct_ometria_tests.servers import running_webserver

ROOT = Path(__file__).resolve().parents[2]
QUERY = "{ assetNodes { assetKey { path } groupName hasAssetChecks partitionDefinition { name } } }"


def test_webserver_loads_the_code_location_and_lists_the_assets(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    with running_webserver({**os.environ, "DAGSTER_HOME": str(home)}) as (base, _):
        answer = httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=60).json()
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
