"""The ledger: only what changed is sent, stale versions never overwrite, bad records are parked
and resolved, Ometria's asynchronous errors are harvested, and a dry run touches nothing."""

import json

import pytest
from dagster import AssetKey

from ct_ometria.local.sample import customer_document
from ct_ometria_tests.pipeline import commerce_data as data
from ct_ometria_tests.pipeline.conftest import at

SYNCS = ("ometria_contacts_sync", "ometria_products_sync", "ometria_orders_sync")


def sync_metadata(result, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(asset)]
    return {key: value.value for key, value in event.materialization.metadata.items()}


@pytest.fixture
def mapping(mapping_file):
    return mapping_file(data.MAPPING)


def test_the_same_partition_twice_sends_nothing_the_second_time(emulator, sandbox, run_all, mapping):
    data.seed(emulator)
    first = run_all(data.DAY, mapping=mapping)
    assert first.success
    requests = len(sandbox.requests())
    second = run_all(data.DAY, mapping=mapping)
    assert second.success
    assert len(sandbox.requests()) == requests
    expected_unchanged = {"ometria_contacts_sync": 1, "ometria_products_sync": 7, "ometria_orders_sync": 7}
    for asset in SYNCS:
        meta = sync_metadata(second, asset)
        assert (meta["new"], meta["changed"], meta["pushed"], meta["requests"]) == (0, 0, 0, 0), asset
        assert meta["unchanged"] == expected_unchanged[asset]
    assert sync_metadata(second, "ometria_orders_sync")["products_pulled_forward"] == 0


def test_one_changed_customer_and_one_changed_order_are_exactly_what_is_sent(emulator, sandbox, run_all, mapping):
    data.seed(emulator)
    assert run_all(data.DAY, mapping=mapping).success
    before = len(sandbox.requests())
    customer = {**data.CUSTOMERS[0], "version": 2, "firstName": "Augusta", "lastModifiedAt": f"{data.DAY}T15:00:00.000Z"}
    order = {**data.ORDERS[3], "version": 6, "shipmentState": "Shipped", "lastModifiedAt": f"{data.DAY}T15:00:00.000Z"}
    emulator.seed(customer=[customer], order=[order])
    result = run_all(data.DAY, mapping=mapping)
    assert result.success
    new_requests = sandbox.requests()[before:]
    assert sorted((r["type"], r["record_count"]) for r in new_requests) == [("contact", 1), ("order", 1)]
    assert sync_metadata(result, "ometria_contacts_sync")["changed"] == 1
    assert sync_metadata(result, "ometria_orders_sync")["changed"] == 1
    assert sync_metadata(result, "ometria_products_sync")["pushed"] == 0
    orders = {record["id"]: record for record in sandbox.records("order")}
    assert orders["ORD-D"]["status"] == "shipped"
    assert {c["id"]: c for c in sandbox.records("contact")}["cust-1"]["firstname"] == "Augusta"


def test_an_older_version_never_overwrites_what_was_sent(emulator, sandbox, run_all, mapping):
    data.seed(emulator)
    assert run_all(data.DAY, mapping=mapping).success
    older = {**data.ORDERS[0], "version": 4, "orderState": "Open", "shipmentState": "Pending"}
    emulator.seed(order=[older])
    result = run_all(data.DAY, mapping=mapping)
    assert result.success
    meta = sync_metadata(result, "ometria_orders_sync")
    assert (meta["stale_skipped"], meta["pushed"]) == (1, 0)
    assert {r["id"]: r for r in sandbox.records("order")}["ORD-A"]["status"] == "shipped"


def test_bad_records_are_parked_with_their_reason_and_resolved_once_fixed(emulator, sandbox, run_contacts, resources):
    emulator.seed(customer=[customer_document("c-good", "good@example.com", at("2024-05-02")),
                            customer_document("c-bad", "not-an-email", at("2024-05-02"))])  # fmt: skip
    result = run_contacts("2024-05-02")
    assert result.success
    ledger = resources["ledger"].open()
    [letter] = ledger.dead_letters()
    assert (letter["record_type"], letter["record_id"], letter["stage"]) == ("customer", "c-bad", "ct_customers")
    assert letter["reason"] == "email: not a valid email address"
    assert json.loads(letter["payload"])["email"] == "not-an-email"
    meta = sync_metadata(result, "ometria_contacts_sync")
    assert meta["open_dead_letters"] == 0 and meta["invalid"] == 1  # contacts: none; the customer is parked
    # The same bad record seen again is one letter with two attempts.
    assert run_contacts("2024-05-02").success
    assert [entry["attempts"] for entry in ledger.dead_letters()] == [2]
    # Fixed in commercetools: the next run sends it and resolves the letter.
    emulator.seed(customer=[customer_document("c-bad", "fixed@example.com", at("2024-05-02", 13), version=2)])
    assert run_contacts("2024-05-02").success
    assert ledger.dead_letters() == []
    assert [entry["resolved"] for entry in ledger.dead_letters(include_resolved=True)] == [True]
    assert sorted(c["id"] for c in sandbox.records("contact")) == ["c-bad", "c-good"]


def test_ometria_asynchronous_errors_are_harvested_parked_and_retried(emulator, sandbox, run_contacts, resources):
    # A numeric customer id passes this project's PII rule but Ometria's sandbox reads it as a phone number.
    emulator.seed(customer=[customer_document("0612345678", "numeric@example.com", at("2024-05-02")),
                            customer_document("c-fine", "fine@example.com", at("2024-05-02"))])  # fmt: skip
    result = run_contacts("2024-05-02")
    assert result.success
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "contacts_accepted"]
    assert not evaluation.passed and evaluation.metadata["async_errors"].value == 1
    ledger = resources["ledger"].open()
    [letter] = ledger.dead_letters()
    assert (letter["record_type"], letter["record_id"], letter["stage"]) == ("contact", "0612345678", "ometria_validation")
    assert letter["reason"].startswith("root > id: ")
    assert [row["record_id"] for row in ledger.pushed("contact")] == ["c-fine"]


def test_a_record_refused_once_and_accepted_later_has_its_letter_resolved(emulator, sandbox, run_contacts, resources):
    # Ometria failed the record once (a transient processing error); the next run sends it again and
    # Ometria takes it: the earlier error no longer counts, and its letter is resolved.
    emulator.seed(customer=[customer_document("c-once", "once@example.com", at("2024-05-02"))])
    sandbox.post("faults", {"async_error_rate": 1.0, "seed": 1})
    assert run_contacts("2024-05-02").success
    ledger = resources["ledger"].open()
    assert [letter["stage"] for letter in ledger.dead_letters()] == ["ometria_validation"]
    sandbox.post("faults", {"async_error_rate": 0})
    assert run_contacts("2024-05-02").success
    assert ledger.dead_letters() == []
    assert [c["id"] for c in sandbox.records("contact")] == ["c-once"]


def test_a_dry_run_reports_what_would_be_sent_and_touches_nothing(emulator, sandbox, run_all, mapping, resources):
    data.seed(emulator)
    run_config = {"ops": {name: {"config": {"dry_run": True}} for name in SYNCS}}
    from dagster import AssetSelection, materialize

    from ct_ometria.definitions import ASSETS

    result = materialize(ASSETS, selection=AssetSelection.groups("commercetools", "ometria"), partition_key=data.DAY,
                         resources={**resources, "mapping": mapping}, run_config=run_config,
                         raise_on_error=False)  # fmt: skip
    assert result.success
    assert sandbox.requests() == []
    ledger = resources["ledger"].open()
    assert ledger.pushed() == [] and ledger.batches() == [] and ledger.dead_letters() == []
    orders = sync_metadata(result, "ometria_orders_sync")
    assert orders["dry_run"] is True
    assert (orders["would_send"], orders["new"], orders["unchanged"], orders["pushed"]) == (7, 7, 0, 0)
    assert '"id":"ORD-A"' in orders["sample_payloads"]
    assert sync_metadata(result, "ometria_products_sync")["would_send"] == 7
    checks = {e.check_name: e for e in result.get_asset_check_evaluations() if e.check_name.endswith("_accepted")}
    assert all(e.description.startswith("dry run: nothing was pushed") for e in checks.values())


def test_errors_ometria_listed_before_are_not_parked_again(emulator, sandbox, run_contacts, resources):
    emulator.seed(customer=[customer_document("0612345678", "numeric@example.com", at("2024-05-02"))])
    assert run_contacts("2024-05-02").success
    emulator.seed(customer=[customer_document("c-new", "new@example.com", at("2024-05-02", 14))])
    result = run_contacts("2024-05-02")
    # The numeric id is sent again (Ometria refused it, so the ledger forgot it) and refused again:
    # one new error for this run; the earlier one is remembered and not counted twice.
    assert sync_metadata(result, "ometria_contacts_sync")["async_errors_parked"] == 1
    [letter] = resources["ledger"].open().dead_letters()
    assert letter["attempts"] == 2


def test_an_email_change_goes_in_a_payload_of_its_own(emulator, sandbox, run_contacts):
    created = at("2024-01-01")
    emulator.seed(customer=[customer_document(f"c-{i}", f"u{i}@example.com", at("2024-05-02", 8), created=created,
                                              first_name="Ann") for i in range(3)])  # fmt: skip
    assert run_contacts("2024-05-02").success
    before = len(sandbox.requests())
    emulator.seed(customer=[
        customer_document("c-0", "u0.new@example.com", at("2024-05-02", 9), version=2, created=created, first_name="Ann"),
        customer_document("c-1", "u1@example.com", at("2024-05-02", 9), version=2, created=created, first_name="Anne"),
        customer_document("c-2", "u2@example.com", at("2024-05-02", 9), version=2, created=created, first_name="Anna"),
    ])  # fmt: skip
    assert run_contacts("2024-05-02").success
    assert [r["record_count"] for r in sandbox.requests()[before:]] == [1, 2]  # the email change alone, first
    contacts = {c["id"]: c for c in sandbox.records("contact")}
    assert contacts["c-0"]["email"] == "u0.new@example.com"


def test_a_run_over_several_days_says_which_day_held_what(emulator, sandbox, run_contacts):
    emulator.seed(customer=[customer_document(f"c-{i}", f"u{i}@example.com", at("2024-05-01" if i < 3 else "2024-05-02"))
                            for i in range(5)])  # fmt: skip
    result = run_contacts("2024-05-01", "2024-05-02")
    assert result.success
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("ometria_contacts_sync")]
    table = events[0].materialization.metadata["per_partition"].value
    assert "| 2024-05-01 | 3 | 0 | 0 |" in table and "| 2024-05-02 | 2 | 0 | 0 |" in table


def test_records_whose_errors_fell_off_ometrias_list_are_sent_again_not_lost(emulator, sandbox, run_contacts, resources):
    # 150 records fail in processing; Ometria lists only its newest 100 errors. The 50 it no longer
    # lists must not count as delivered.
    emulator.seed(customer=[customer_document(f"c-{i:03d}", f"u{i}@example.com", at("2024-05-02")) for i in range(150)])
    sandbox.post("faults", {"async_error_rate": 1.0, "seed": 1})
    result = run_contacts("2024-05-02")
    assert result.success
    assert sync_metadata(result, "ometria_contacts_sync")["errors_list_overflowed"] is True
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "contacts_accepted"]
    assert not check.passed and "overflowed" in check.description
    assert resources["ledger"].open().pushed("contact") == []
    sandbox.post("faults", {"async_error_rate": 0})
    assert run_contacts("2024-05-02").success
    assert len(sandbox.records("contact")) == 150
    assert resources["ledger"].open().dead_letters() == []
