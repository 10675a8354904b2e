"""The storefront collector as its own process (``ct-ometria collector``), drained by the real sensor."""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Iterator

import httpx
import pytest
from dagster import SkipReason

from ct_ometria.local.process import LocalServer

READY = re.compile(r"ct-ometria collector on (http://127\.0\.0\.1:\d+) pid=(\d+)")
SENSOR = "storefront_inbox_sensor"


@pytest.fixture
def collector(resources, tmp_path) -> Iterator[tuple[str, str]]:
    secret = secrets.token_urlsafe(24)
    env = {**os.environ, "CT_OMETRIA_COLLECTOR_SECRET": secret, "CT_OMETRIA_DATABASE_URL": resources["ledger"].url,
           "DAGSTER_HOME": str(tmp_path)}  # fmt: skip
    env.pop("CT_OMETRIA_CONFIG", None)
    server = LocalServer([sys.executable, "-m", "ct_ometria.cli", "collector", "--port", "0"], READY, env=env, timeout=60)
    try:
        yield server.ready.group(1), secret
    finally:
        server.stop()
    assert secret not in "\n".join(server.lines)


def post(url: str, body, secret: str | None) -> httpx.Response:
    headers = {"X-Collector-Secret": secret} if secret is not None else {}
    return httpx.post(f"{url}/events", json=body, headers=headers, timeout=10)


def view(event_id: str, **fields) -> dict:
    return {"event_id": event_id, "type": "product_viewed", "occurred_at": "2026-01-05T10:00:00+00:00",
            "store": "uk", "locale": "en-GB", "currency": "GBP", "email": "ann@example.com",
            "properties": {"product_id": "shirt"}, **fields}  # fmt: skip


def test_the_collector_refuses_strangers_and_bad_events_and_loses_nothing_while_the_sensor_is_stopped(
    collector, sandbox, tick, event_store
):  # fmt: skip
    url, secret = collector
    assert post(url, view("v1"), None).status_code == 401
    assert post(url, view("v1"), "wrong-secret-value").status_code == 401
    assert event_store.counts() == {}

    response = post(url, {"events": [view("v1"), view("v2", email="not-an-email"), view("v3", type="teleported"),
                                      view("v4", currency="XXQ", properties={"note": "x" * 600})]}, secret)  # fmt: skip
    assert response.status_code == 422
    errors = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert errors == {(1, "email"), (2, "type"), (3, "currency"), (3, "properties")}
    assert "not-an-email" not in response.text  # errors name the field, never the value
    assert response.json()["accepted"] == 1

    # The sensor is stopped: these wait in the inbox, durable, one of them posted twice.
    for body in ([view("v5", type="search", properties={"query": "shirts"})], view("v6", customer_id=None),
                 view("v5", type="search", properties={"query": "shirts"})):  # fmt: skip
        assert post(url, body, secret).status_code == 202
    assert event_store.counts(["storefront"]) == {"pending": 3}
    assert sandbox.records("custom_event") == []

    answer, result = tick(SENSOR)
    assert result is not None and result.success, answer
    sent = {e["id"]: e for e in sandbox.records("custom_event")}
    assert set(sent) == {"sf-v1", "sf-v5", "sf-v6"}
    assert sent["sf-v5"]["event_type"] == "search" and sent["sf-v5"]["properties"]["query"] == "shirts"
    assert sent["sf-v1"]["properties"] == {"product_id": "shirt", "store": "uk", "locale": "en-GB", "currency": "GBP"}
    assert sent["sf-v1"]["timestamp"] == "2026-01-05T10:00:00+00:00"
    assert event_store.counts(["storefront"]) == {"sent": 3}
    answer, result = tick(SENSOR)
    assert isinstance(answer, SkipReason)


def test_an_event_naming_an_unknown_customer_is_parked_and_its_neighbours_go(collector, sandbox, tick, ledger):
    url, secret = collector
    body = [view("a1"), view("a2", email=None, customer_id="no-such-customer")]
    assert post(url, body, secret).status_code == 202
    answer, result = tick(SENSOR)
    assert result is not None and result.success
    assert [e["id"] for e in sandbox.records("custom_event")] == ["sf-a1"]
    [letter] = ledger.dead_letters("custom_event")
    assert (letter["record_id"], letter["reason"]) == ("sf-a2", "customer: no such commercetools customer")
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("storefront_events_delivered", False)]
