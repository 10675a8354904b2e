"""Pulling products forward for orders: once per product across concurrent runs, never read again
once Ometria holds them, and a catalogue at a time in chunks."""

from __future__ import annotations

import threading

import pytest

from ct_ometria import refresh
from ct_ometria.commercetools.resolve import fetch_stores
from ct_ometria.ledger.store import Ledger
from ct_ometria.mapping.stores import resolve_stores
from ct_ometria.refresh import pull_products_forward
from ct_ometria_tests.conftest import POSTGRES_URL
from ct_ometria_tests.pipeline import commerce_data as data

RECORDS = {"tee", "TEE-M", "TEE-L", "mug", "MUG-1", "cap", "CAP-1"}


def _pull(resources, settings, ledger: Ledger, product_ids: set[str], run_id: str) -> tuple[refresh.PulledForward, int]:
    """One pull as a run does it; with the commercetools requests it made."""
    with resources["commercetools"].client() as ct, resources["ometria"].client() as ometria:
        stores, project = fetch_stores(ct)
        before = ct.requests
        pulled = pull_products_forward(ct, ometria, ledger, settings, resolve_stores(stores, project, settings), product_ids,
                                       run_id=run_id, stage="ometria_orders_sync")  # fmt: skip
        return pulled, ct.requests - before


def _product_records_pushed(sandbox) -> int:
    return sum(entry["record_count"] for entry in sandbox.requests() if entry["type"] == "product" and entry["status"] == 202)


def _seeded(emulator) -> set[str]:
    emulator.seed(store=data.STORES, category=data.CATEGORIES, product=data.PRODUCTS)
    return {product["id"] for product in data.PRODUCTS}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_runs_pulling_the_same_products_at_once_send_each_once(emulator, sandbox, resources, mapping_file, ledger_schema,
                                                               tmp_path, database):  # fmt: skip
    ids = _seeded(emulator)
    settings = mapping_file(data.MAPPING).load()
    url = POSTGRES_URL if database == "postgresql" else f"sqlite:///{tmp_path / 'ledger.db'}"
    # A ledger each, as two run processes have: their own engines and connections.
    ledgers = [Ledger(url, ledger_schema) for _ in range(4)]
    start = threading.Barrier(len(ledgers))
    results: list = [None] * len(ledgers)

    def run(index: int) -> None:
        start.wait()
        results[index] = _pull(resources, settings, ledgers[index], ids, f"run-{index}")

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
    ids = _seeded(emulator)
    settings = mapping_file(data.MAPPING).load()
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    first, first_requests = _pull(resources, settings, ledger, ids, "first")
    assert first.sent == len(RECORDS) and first_requests >= 1
    second, second_requests = _pull(resources, settings, ledger, ids | {"no-such-product"}, "second")
    # Only the product Ometria has never received is asked for; it is gone from commercetools.
    assert (second.sent, second.missing, second_requests) == (0, ["no-such-product"], 1)
    assert _product_records_pushed(sandbox) == len(RECORDS)


def test_a_catalogue_is_pulled_in_chunks(emulator, sandbox, resources, mapping_file, tmp_path, monkeypatch):
    ids = _seeded(emulator)
    settings = mapping_file(data.MAPPING).load()
    monkeypatch.setattr(refresh, "PULL_CHUNK", 1)
    pulled, requests = _pull(resources, settings, Ledger(f"sqlite:///{tmp_path / 'ledger.db'}"), ids, "chunked")
    assert pulled.sent == len(RECORDS)
    assert {record["id"] for record in sandbox.records("product")} == RECORDS
    # A read of products per chunk of one (their categories are read per chunk too); all at once is two reads.
    assert requests >= len(ids)
