"""A record set aside because its id looks like personal data (an order number that is an email or a
phone number) must not show that id where the reason is reported: the check's list of invalid
records, previews, the dead letters (metadata and ``ct-ometria dead-letters list``)."""

from __future__ import annotations

from dagster._serdes import serialize_value

from ct_ometria.cli.dead_letters import list_command
from ct_ometria.mapping.common import PERSONAL_ID_MASK
from ct_ometria_tests.pipeline import commerce_data as data
from ct_ometria_tests.pipeline.conftest import mapping_file, resources, run_all  # noqa: F401  (fixtures)

EMAIL_NUMBER = "jo.quennell@example.com"
PHONE_NUMBER = "+44 7911 123456"
REASON = "id: id must not contain personal data"


def order(doc_id: str, number: str, version: int = 5) -> dict:
    document = data.order(doc_id, number, [data.line(f"{doc_id}-1", data.TEE, 0, 1, 1999, 1999)], 1999)
    return {**document, "version": version}


def test_an_order_set_aside_for_a_personal_looking_number_is_reported_and_parked_without_it(
    emulator, sandbox, run_all, mapping_file, resources, monkeypatch, capsys, tmp_path  # noqa: F811
):
    data.seed(emulator)  # orders.id_strategy: orderNumber
    emulator.seed(order=[order("order-mail", EMAIL_NUMBER), order("order-phone", PHONE_NUMBER)])
    mapping = mapping_file(data.MAPPING)
    result = run_all(data.DAY, mapping=mapping)
    assert result.success

    events = "\n".join(serialize_value(event) for event in result.all_events)
    assert REASON in events and PERSONAL_ID_MASK in events  # the records were set aside, and reported
    assert EMAIL_NUMBER not in events and PHONE_NUMBER not in events
    ledger = resources["ledger"].open()
    letters = {letter["record_id"]: letter for letter in ledger.dead_letters("order")}
    # Filed under the commercetools id, which replay reads and the listing shows.
    assert letters["order-mail"]["reason"] == REASON and letters["order-mail"]["source_id"] == "order-mail"
    assert letters["order-phone"]["reason"] == REASON
    assert not any(EMAIL_NUMBER in str(letter) or PHONE_NUMBER in str(letter) for letter in letters.values())

    # A letter parked under such an id before it was masked is listed masked too.
    ledger.park([{"record_type": "order", "record_id": "ann@example.com", "stage": "ometria_orders", "reason": REASON,
                  "payload": None, "partition": data.DAY, "source_id": "order-old"}])  # fmt: skip
    monkeypatch.setenv("CT_OMETRIA_DATABASE_URL", resources["ledger"].url)
    monkeypatch.delenv("CT_OMETRIA_DATABASE_SCHEMA", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    capsys.readouterr()
    assert list_command("order", include_resolved=False) == 0
    listed = capsys.readouterr().out
    assert "order-mail" in listed and "order-phone" in listed and PERSONAL_ID_MASK in listed
    assert EMAIL_NUMBER not in listed and PHONE_NUMBER not in listed and "ann@example.com" not in listed

    # Once the order has a proper number, its record is accepted and the letter resolves by its source.
    emulator.seed(order=[order("order-mail", "ORD-MAIL", version=6)])
    assert run_all(data.DAY, mapping=mapping).success
    assert "order-mail" not in {letter["record_id"] for letter in ledger.dead_letters("order")}
    assert "ORD-MAIL" in {record["id"] for record in sandbox.records("order")}
