"""The near-real-time runs handle emails at every step (a contact created, its email changed, an
order and a refund, a cart, a deletion request by the hash of the email): what they log, and what
Dagster records of them (messages, metadata, check descriptions), names records by id, never by
their personal data."""

from __future__ import annotations

import secrets

from dagster._serdes import serialize_value

from ct_ometria_tests.events.conftest import ledger, shop, tick  # noqa: F401  (fixtures)
from ct_ometria_tests.pipeline.conftest import mapping_file, resources  # noqa: F401  (fixtures)

TOKEN = secrets.token_hex(5)
EMAILS = [f"ysolde.marchbanks-{TOKEN}@example.org", f"ysolde.m-{TOKEN}@example.net",
          f"cart.only-{TOKEN}@example.com", f"leaving-{TOKEN}@example.com"]  # fmt: skip


def test_event_runs_keep_personal_data_out_of_their_logs_and_events(emulator, sandbox, shop, tick, capfd):  # noqa: F811
    shirt = shop.product("shirt")
    ysolde = shop.customer(EMAILS[0])
    leaving = shop.customer(EMAILS[3])
    shop.ct.update("customers", ysolde["id"], {"action": "changeEmail", "email": EMAILS[1]})
    order = shop.order(shirt, EMAILS[1], ysolde)
    shop.payment_refund(order, 500)
    shop.add(shop.cart(customerEmail=EMAILS[2]), shirt, 2)
    results = [tick("commercetools_messages_sensor")[1], tick("commercetools_carts_sensor")[1]]
    shop.ct.delete("customers", leaving["id"])  # Ometria holds the contact: a deletion request, by hash
    results.append(tick("commercetools_messages_sensor")[1])
    assert all(result is not None and result.success for result in results)
    assert [c["email"] for c in sandbox.records("contact") if c["id"] == ysolde["id"]] == [EMAILS[1]]

    captured = capfd.readouterr()
    texts = {"stdout": captured.out, "stderr": captured.err}
    for number, result in enumerate(results):
        texts[f"events of run {number}"] = "\n".join(serialize_value(event) for event in result.all_events)
    assert texts["stderr"] and all(texts[f"events of run {n}"] for n in range(len(results)))
    [deletions] = [m.metadata["deletion_requests"].value for m in results[2].asset_materializations_for_node(
        "ometria_message_events")]  # fmt: skip
    assert deletions.get("sent") == 1, deletions
    found = [f"{email} in {place}" for place, text in texts.items() for email in EMAILS if email in text]
    assert not found, found
