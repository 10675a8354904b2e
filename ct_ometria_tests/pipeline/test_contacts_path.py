"""Acceptance of the first end-to-end path: commercetools customers become Ometria contacts."""

import datetime as dt
import json
import re

import pandas as pd
from dagster import AssetKey

from ct_ometria.local.sample import customer_document, sample_customers
from ct_ometria_tests.pipeline.conftest import at

UUID = re.compile(r"^[0-9a-f-]{36}$")


def metadata(result, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(asset)][:1] or [None]
    assert event is not None, f"{asset} was not materialized"
    return {key: value.value for key, value in event.materialization.metadata.items()}


def check(result, name: str):
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def test_a_day_brings_exactly_that_days_customers(emulator, sandbox, run_contacts):
    emulator.seed(
        customer=[
            customer_document("8a1d0c52-6a49-4bd5-9d53-000000000001", "  Ada.Lovelace@Example.COM ", at("2024-05-02", 9),
                              first_name="Ada", customer_number="C-1"),
            customer_document("8a1d0c52-6a49-4bd5-9d53-000000000002", "bram@example.com", at("2024-05-02", 23, 59)),
            customer_document("8a1d0c52-6a49-4bd5-9d53-000000000003", "before@example.com", at("2024-05-01", 23, 59)),
            customer_document("8a1d0c52-6a49-4bd5-9d53-000000000004", "after@example.com", at("2024-05-03", 0, 0)),
        ]
    )  # fmt: skip
    result = run_contacts("2024-05-02")
    assert result.success

    contacts = {c["id"]: c for c in sandbox.records("contact")}
    assert sorted(contacts) == ["8a1d0c52-6a49-4bd5-9d53-000000000001", "8a1d0c52-6a49-4bd5-9d53-000000000002"]
    ada = contacts["8a1d0c52-6a49-4bd5-9d53-000000000001"]
    assert ada["email"] == "ada.lovelace@example.com"
    assert ada["customer_id"] == "8a1d0c52-6a49-4bd5-9d53-000000000001"
    assert ada["firstname"] == "Ada"
    for contact in contacts.values():
        assert UUID.match(contact["id"])
        assert "@" not in contact["id"] and "ada" not in contact["id"].lower()
    assert sandbox.get("errors") == []

    assert metadata(result, "ct_customers")["read"] == 2
    assert metadata(result, "ometria_contacts")["mapped"] == 2
    sync = metadata(result, "ometria_contacts_sync")
    assert (sync["pushed"], sync["accepted"], sync["rejected"], sync["requests"]) == (2, 2, 0, 1)
    assert check(result, "customers_valid").passed and check(result, "contacts_valid").passed


def test_1250_customers_of_one_day_all_arrive_in_requests_of_at_most_100_without_429(emulator, sandbox, run_contacts):
    emulator.seed(customer=sample_customers(1250, dt.date(2024, 5, 2), days=1))
    result = run_contacts("2024-05-02")
    assert result.success
    assert len(sandbox.records("contact")) == 1250
    log = sandbox.requests()
    assert len(log) == 13
    assert max(entry["record_count"] for entry in log) == 100
    assert {entry["status"] for entry in log} == {202}
    assert metadata(result, "ometria_contacts_sync")["throttled_429"] == 0


def test_a_malformed_email_is_reported_with_its_id_and_reason_and_the_rest_arrive(emulator, sandbox, run_contacts):
    good = [customer_document(f"good-{i}", f"shopper{i}@example.com", at("2024-05-02", 10)) for i in range(20)]
    bad = customer_document("bad-email-1", "shopper.at.example.com", at("2024-05-02", 11))
    emulator.seed(customer=[*good, bad])
    result = run_contacts("2024-05-02")
    assert result.success

    evaluation = check(result, "customers_valid")
    assert evaluation.passed
    assert evaluation.metadata["invalid"].value == 1
    table = evaluation.metadata["invalid_records"].value
    assert "| bad-email-1 | 2024-05-02 | email: not a valid email address |" in table
    assert "shopper.at.example.com" not in table
    assert sorted(c["id"] for c in sandbox.records("contact")) == sorted(d["id"] for d in good)


def test_too_many_invalid_customers_block_the_push(emulator, sandbox, run_contacts, mapping_file):
    emulator.seed(
        customer=[customer_document(f"c-{i}", f"u{i}@example.com" if i % 2 else "broken", at("2024-05-02")) for i in range(10)]
    )
    mapping = mapping_file({"sync": {"max_invalid_share": 0.1, "invalid_records_tolerated": 2}})
    result = run_contacts("2024-05-02", mapping=mapping)
    assert not result.success
    assert not check(result, "customers_valid").passed
    assert sandbox.records("contact") == [] and sandbox.requests() == []
    assert AssetKey("ometria_contacts_sync") not in {e.asset_key for e in result.get_asset_materialization_events()}


def test_transient_failures_on_both_sides_still_deliver_everything(emulator, sandbox, run_contacts):
    emulator.seed(customer=sample_customers(700, dt.date(2024, 5, 2), days=1))
    emulator.revoke_tokens()
    emulator.fault("/customers", status=503, times=1)
    sandbox.post("faults", {"status": 429, "times": 1, "retry_after": 1})
    result = run_contacts("2024-05-02")
    assert result.success
    assert len(sandbox.records("contact")) == 700
    assert metadata(result, "ct_customers")["commercetools_retries"] == 1
    sync = metadata(result, "ometria_contacts_sync")
    assert (sync["throttled_429"], sync["accepted"]) == (1, 700)
    # Seven requests: the delivery took the account's turn to push, with no other run holding it.
    assert 0 <= sync["turn_wait_seconds"] < 1


def test_a_token_refused_mid_run_is_renewed(emulator, sandbox, run_contacts):
    emulator.seed(customer=sample_customers(30, dt.date(2024, 5, 2), days=1))
    # The first customers request is answered as if the token had been revoked.
    emulator.fault("/customers", status=401, code="invalid_token")
    result = run_contacts("2024-05-02")
    assert result.success
    assert metadata(result, "ct_customers")["commercetools_retries"] == 0  # renewed, not retried
    assert metadata(result, "ct_customers")["commercetools_requests"] == 2
    assert len(sandbox.records("contact")) == 30


def test_a_range_of_days_is_one_run_with_one_file_per_day(emulator, sandbox, run_contacts, resources, tmp_path):
    emulator.seed(customer=sample_customers(90, dt.date(2024, 5, 1), days=3))
    result = run_contacts("2024-05-01", "2024-05-03")
    assert result.success
    assert len(sandbox.records("contact")) == 90
    partitions = {e.partition for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("ct_customers")}
    assert partitions == {"2024-05-01", "2024-05-02", "2024-05-03"}
    files = sorted(p.name for p in (tmp_path / "frames" / "ometria_contacts").iterdir())
    assert files == ["2024-05-01.parquet", "2024-05-02.parquet", "2024-05-03.parquet"]
    day = pd.read_parquet(tmp_path / "frames" / "ometria_contacts" / "2024-05-02.parquet")
    assert len(day) == 30 and set(day["partition"]) == {"2024-05-02"}
    assert all(json.loads(record)["@type"] == "contact" for record in day["record"])


def test_in_a_backfill_a_bad_day_is_held_back_and_the_good_days_flow(emulator, sandbox, run_contacts, mapping_file,
                                                                      resources):  # fmt: skip
    emulator.seed(
        customer=[customer_document(f"bad-{i}", "broken" if i % 2 else f"b{i}@example.com", at("2024-05-01")) for i in range(10)]
        + [customer_document(f"good-{i}", f"g{i}@example.com", at("2024-05-02")) for i in range(5)]
    )  # fmt: skip
    mapping = mapping_file({"sync": {"max_invalid_share": 0.1, "invalid_records_tolerated": 2}})
    result = run_contacts("2024-05-01", "2024-05-02", mapping=mapping)
    assert result.success
    evaluation = check(result, "customers_valid")
    assert not evaluation.passed and evaluation.severity.value == "WARN"
    assert evaluation.metadata["days_held"].value == "2024-05-01"
    assert sorted(c["id"] for c in sandbox.records("contact")) == [f"good-{i}" for i in range(5)]
    letters = resources["ledger"].open().dead_letters()
    held = [l for l in letters if l["reason"].startswith("held:")]
    assert len(held) == 5 and len(letters) == 10  # nothing lost: the day's valid records wait with a reason
