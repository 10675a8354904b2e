"""The event tables, on SQLite and on the machine's PostgreSQL."""

import datetime as dt

from ct_ometria.ledger import Ledger
from ct_ometria.ledger.events import EventStore, InboxEvent
from ct_ometria_tests.ledger.test_ledger_store import url_and_schema  # noqa: F401  (fixture)

AT = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.timezone.utc)


def event(event_id: str, held: bool = False, cart: str | None = None) -> InboxEvent:
    return InboxEvent(event_id, "cart" if cart else "storefront", "product_viewed", AT,
                      {"event_id": event_id, "email": None if held else "a@example.com"}, cart_id=cart, held=held)  # fmt: skip


def test_the_inbox_stores_each_event_once_and_tracks_it_to_sent_or_parked(url_and_schema):  # noqa: F811
    store = EventStore(Ledger(*url_and_schema))
    assert store.add_events([event("e1"), event("e2"), event("e1")]) == 2
    assert store.add_events([event("e2"), event("e3")]) == 1
    pending = store.pending(10)
    assert [row["event_id"] for row in pending] == ["e1", "e2", "e3"]
    assert store.newest_pending() == pending[-1]["id"]
    store.mark_sent([pending[0]["id"]], "req-1")
    store.mark_parked({pending[1]["id"]: "email: not a valid email address"})
    assert store.counts() == {"pending": 1, "sent": 1, "parked": 1}
    assert [row["event_id"] for row in store.pending(10, up_to=pending[1]["id"])] == []


def test_a_carts_snapshot_and_events_are_written_together_and_held_events_are_released(url_and_schema):  # noqa: F811
    store = EventStore(Ledger(*url_and_schema))
    store.save_cart("c1", 3, {"l1": {"quantity": 1}}, False, [event("c1-3-l1", held=True, cart="c1")])
    assert store.snapshots(["c1", "c2"]) == {"c1": {"version": 3, "lines": {"l1": {"quantity": 1}}, "checkout_started": False}}
    assert store.counts() == {"held": 1}
    assert store.release_held("c1", {"email": "late@example.com", "customer": None}) == 1
    [row] = store.pending(10)
    assert row["draft"]["email"] == "late@example.com"


def test_processed_messages_and_versions_only_grow_and_deletions_queue_once(url_and_schema):  # noqa: F811
    store = EventStore(Ledger(*url_and_schema))
    message = {"id": "m1", "type": "OrderCreated", "resource": {"typeId": "order", "id": "o1"}, "sequenceNumber": 1,
               "resourceVersion": 1, "createdAt": "2026-11-27T10:00:00.000Z"}  # fmt: skip
    store.mark_processed([message, message], {("order", "o1"): (4, 1)})
    store.mark_processed([], {("order", "o1"): (2, 1)})
    assert store.processed(["m1", "m2"]) == {"m1"} and store.versions("order", ["o1"]) == {"o1": 4}
    assert store.prune_processed(AT + dt.timedelta(seconds=1)) == 1 and store.processed(["m1"]) == set()
    assert store.queue_deletion("c1", "h" * 64) is True and store.queue_deletion("c1", "h" * 64) is False
    store.mark_deletion("c1", "sent", "req-9")
    assert [(d["customer_id"], d["status"], d["request_id"]) for d in store.deletions()] == [("c1", "sent", "req-9")]
