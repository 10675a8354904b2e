"""Pulling products forward for orders: once per product across concurrent runs, read again only
while a record the lines name is missing from Ometria, and a catalogue in chunks."""

from __future__ import annotations

import threading

import pytest

from ct_ometria import refresh
from ct_ometria.commercetools.resolve import fetch_stores
from ct_ometria.ledger.store import Ledger
from ct_ometria.mapping.stores import resolve_stores
from ct_ometria.refresh import line_products, pull_products_forward
from ct_ometria_tests.conftest import POSTGRES_URL
from ct_ometria_tests.hostile.frames import extract_and_map
from ct_ometria_tests.pipeline import commerce_data as data

RECORDS = {"tee", "TEE-M", "TEE-L", "mug", "MUG-1", "cap", "CAP-1"}
# What order lines name, per commercetools product: the parent and the variant bought.
NAMED = {"prod-tee": {"tee", "TEE-M"}, "prod-mug": {"mug", "MUG-1"}, "prod-cap": {"cap", "CAP-1"}}


def _pull(resources, settings, ledger: Ledger, named: dict[str, set[str]], run_id: str) -> tuple[refresh.PulledForward, int]:
    """One pull as a run does it; with the commercetools requests it made."""
    with resources["commercetools"].client() as ct, resources["ometria"].client() as ometria:
        stores, project = fetch_stores(ct)
        before = ct.requests
        pulled = pull_products_forward(ct, ometria, ledger, settings, resolve_stores(stores, project, settings), named,
                                       run_id=run_id, stage="ometria_orders_sync")  # fmt: skip
        return pulled, ct.requests - before


def _product_records_pushed(sandbox) -> int:
    return sum(entry["record_count"] for entry in sandbox.requests() if entry["type"] == "product" and entry["status"] == 202)


def _seeded(emulator) -> dict[str, set[str]]:
    emulator.seed(store=data.STORES, category=data.CATEGORIES, product=data.PRODUCTS)
    return {product: set(records) for product, records in NAMED.items()}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_runs_pulling_the_same_products_at_once_send_each_once(emulator, sandbox, resources, mapping_file, ledger_schema,
                                                               tmp_path, database):  # fmt: skip
    named = _seeded(emulator)
    settings = mapping_file(data.MAPPING).load()
    url = POSTGRES_URL if database == "postgresql" else f"sqlite:///{tmp_path / 'ledger.db'}"
    # A ledger each, as two run processes have: their own engines and connections.
    ledgers = [Ledger(url, ledger_schema) for _ in range(4)]
    start = threading.Barrier(len(ledgers))
    results: list = [None] * len(ledgers)

    def run(index: int) -> None:
        start.wait()
        results[index] = _pull(resources, settings, ledgers[index], named, f"run-{index}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(ledgers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result is not None for result in results)
    assert {record["id"] for record in sandbox.records("product")} == RECORDS
    assert _product_records_pushed(sandbox) == len(RECORDS)
    assert sorted(pulled.sent for pulled, _ in results) == [0] * (len(ledgers) - 1) + [len(RECORDS)]


def test_products_ometria_holds_are_not_read_again(emulator, sandbox, resources, mapping_file, tmp_path):
    named = _seeded(emulator)
    settings = mapping_file(data.MAPPING).load()
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    first, first_requests = _pull(resources, settings, ledger, named, "first")
    assert first.sent == len(RECORDS) and first_requests >= 1
    second, second_requests = _pull(resources, settings, ledger, {**named, "no-such-product": {"gone"}}, "second")
    # Only the product Ometria has never received is asked for; it is gone from commercetools.
    assert (second.sent, second.missing, second_requests) == (0, ["no-such-product"], 1)
    assert _product_records_pushed(sandbox) == len(RECORDS)


def test_a_variant_ometria_lacks_is_pulled_though_its_parent_is_held(emulator, sandbox, resources, mapping_file, tmp_path):
    named = _seeded(emulator)
    settings = mapping_file(data.MAPPING).load()
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    _pull(resources, settings, ledger, named, "first")
    ledger.forget("product", ["TEE-L"])  # Ometria refused it after accepting its batch
    held, held_requests = _pull(resources, settings, ledger, named, "lines-name-held-records")
    assert (held.sent, held_requests) == (0, 0)
    pulled, _ = _pull(resources, settings, ledger, {"prod-tee": {"tee", "TEE-L"}}, "a-line-names-the-lost-variant")
    assert pulled.sent == 1
    assert [entry["record_ids"] for entry in sandbox.requests() if entry["type"] == "product"][-1] == ["TEE-L"]


def test_a_catalogue_is_pulled_in_chunks(emulator, sandbox, resources, mapping_file, tmp_path, monkeypatch):
    named = _seeded(emulator)
    settings = mapping_file(data.MAPPING).load()
    monkeypatch.setattr(refresh, "PULL_CHUNK", 1)
    pulled, requests = _pull(resources, settings, Ledger(f"sqlite:///{tmp_path / 'ledger.db'}"), named, "chunked")
    assert pulled.sent == len(RECORDS)
    assert {record["id"] for record in sandbox.records("product")} == RECORDS
    # A read of products per chunk of one, and of the categories of the two with categories; all at once is two reads.
    assert requests == len(named) + 2


def test_the_records_order_lines_name_are_found_per_product():
    extracted, mapped = extract_and_map("order", data.ORDERS)
    named = line_products(extracted, mapped)
    assert named["prod-mug"] == {"mug", "MUG-1"}
    assert {"tee", "TEE-M", "TEE-L"} <= named["prod-tee"]
