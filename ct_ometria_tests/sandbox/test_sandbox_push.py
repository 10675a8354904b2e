"""POST /v2/push: auth, request shape, rate and queue limits, responses, async validation (§8 rules 1-11)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from .conftest import KEY

PROBLEM = "application/problem+json"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    return body


def _stored(client: Any, record_type: str | None = None) -> list[dict[str, Any]]:
    params = {"type": record_type} if record_type else {}
    return client.get("/__sandbox/records", params=params).json()


def _assert_nothing_stored(client: Any) -> None:
    stats = client.get("/__sandbox/stats").json()
    assert stats["records"] == {"contact": 0, "order": 0, "product": 0, "custom_event": 0}
    assert stats["queued"] == 0 and stats["errors"] == 0


def test_missing_auth_header(client, valid) -> None:
    response = client.post("/v2/push", json=[valid("contact")], headers={"X-Ometria-Auth": ""})
    assert "missing" in _problem(response, 403)["detail"]
    _assert_nothing_stored(client)


def test_unknown_key_is_refused_without_echoing_it(client, valid) -> None:
    secret = "wrong-secret-value-123"
    response = client.post("/v2/push", json=[valid("contact")], headers={"X-Ometria-Auth": secret})
    _problem(response, 403)
    assert secret not in response.text and KEY not in response.text
    _assert_nothing_stored(client)


def test_auth_failure_status_401_option(make_client, valid) -> None:
    client = make_client(auth_failure_status=401)
    _problem(client.post("/v2/push", json=[valid("contact")], headers={"X-Ometria-Auth": "nope"}), 401)


def test_content_type_must_be_json(client, valid) -> None:
    body = json.dumps([valid("contact")])
    response = client.post("/v2/push", content=body, headers={"Content-Type": "text/plain"})
    _problem(response, 415)
    ok = client.post("/v2/push", content=body, headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 202
    assert client.get("/__sandbox/requests").json()[0]["status"] == 415


@pytest.mark.parametrize(
    ("body", "detail_part"),
    [
        (b'[{"@type": "contact",', "not valid JSON"),
        (b'[{"@type": "product", "id": "p", "price": NaN}]', "not valid JSON"),
        (b'\xff\xfe\x00', "not valid JSON"),
        (b'{"@type": "contact", "id": "c", "email": "a@example.com"}', "JSON array"),
        (b'"hello"', "JSON array"),
        (b"[]", "at least one record"),
        (b'[1, 2]', "record 0 is not a JSON object"),
        (b'[{"@type": "basket", "id": "b"}]', "@type must be one of"),
        (b'[{"id": "no-type"}]', "@type must be one of"),
        (b'[{"@type": "contact", "id": "c", "email": "a@example.com"}, {"@type": "product", "id": "p"}]',
         "one record type only"),
    ],
)  # fmt: skip
def test_malformed_requests_are_400_and_store_nothing(client, body: bytes, detail_part: str) -> None:
    response = client.post("/v2/push", content=body, headers={"Content-Type": "application/json"})
    assert detail_part in _problem(response, 400)["detail"]
    _assert_nothing_stored(client)


def test_101_records_refused_100_accepted(client, valid) -> None:
    records = [valid("product", id=f"p-{i}") for i in range(101)]
    body = _problem(client.post("/v2/push", json=records), 400)
    assert body["detail"] == "too many records: 101 (at most 100 per request)"
    _assert_nothing_stored(client)
    response = client.post("/v2/push", json=records[:100])
    assert response.status_code == 202 and response.json()["accepted"] == 100
    assert [r["record_count"] for r in client.get("/__sandbox/requests").json()] == [101, 100]


def test_record_over_60kb_is_413(client, valid) -> None:
    small = valid("product", id="p-0")
    big = valid("product", id="p-1", title="x" * (60 * 1024))
    response = client.post("/v2/push", json=[small, big])
    body = _problem(response, 413)
    assert body["detail"].startswith("Payload invalid: Record is too large")
    assert "record index 1" in body["detail"] and body["index"] == 1
    _assert_nothing_stored(client)
    # Many records just under 60 KB each are fine: the limit is per record, not per request.
    near = [valid("product", id=f"n-{i}", title="y" * (60 * 1024 - 200)) for i in range(3)]
    assert client.post("/v2/push", json=near).status_code == 202


def test_success_status_body_and_headers(make_client, valid) -> None:
    client = make_client(process_mode="manual", queue_capacity=1000)
    response = client.post("/v2/push", json=[valid("product", id="a"), valid("product", id="b")])
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"status", "request_id", "accepted", "rejected"}
    assert body["status"] == "OK" and body["accepted"] == 2 and body["rejected"] == 0
    assert uuid.UUID(body["request_id"]).version == 4
    assert response.headers["X-QueueSize-Remaining"] == "998"
    assert response.headers["X-QueueSize-Limit"] == "1000"
    log = client.get("/__sandbox/requests").json()
    assert log[0]["request_id"] == body["request_id"] and log[0]["status"] == 202 and log[0]["type"] == "product"


def test_success_status_is_configurable(make_client, valid) -> None:
    assert make_client(success_status=200).post("/v2/push", json=[valid("product")]).status_code == 200


def test_push_rate_limit_burst_of_nine_gets_429(make_client, valid) -> None:
    client = make_client(push_rate_per_second=8)
    statuses = []
    retry_after = None
    for i in range(9):
        response = client.post("/v2/push", json=[valid("product", id=f"p{i}")])
        statuses.append(response.status_code)
        if response.status_code == 429:
            retry_after = response.headers["Retry-After"]
    assert statuses == [202] * 8 + [429]
    assert retry_after is not None and int(retry_after) >= 1
    stats = client.get("/__sandbox/stats").json()
    assert stats["throttled"] == 1 and stats["records"]["product"] == 8


def test_push_rate_limit_spread_over_more_than_a_second_passes(make_client, valid) -> None:
    client = make_client(push_rate_per_second=8)
    start = time.monotonic()
    statuses = []
    for i in range(9):
        statuses.append(client.post("/v2/push", json=[valid("product", id=f"p{i}")]).status_code)
        time.sleep(0.13)
    assert time.monotonic() - start > 1.0
    assert statuses == [202] * 9


def test_rate_limits_are_per_account(make_client, valid) -> None:
    client = make_client(push_rate_per_second=1)
    assert client.post("/v2/push", json=[valid("product")]).status_code == 202
    assert client.post("/v2/push", json=[valid("product")]).status_code == 429
    other = client.post("/v2/push", json=[valid("product")], headers={"X-Ometria-Auth": "sandbox-test-key-B"})
    assert other.status_code == 202


def test_rest_rate_limit(make_client) -> None:
    client = make_client(rest_rate_per_second=4)
    statuses = [client.get("/v2/push/_errors").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    # Inspection endpoints are not rate limited.
    assert all(client.get("/__sandbox/stats").status_code == 200 for _ in range(10))


def test_queue_capacity_429(make_client, valid) -> None:
    client = make_client(process_mode="manual", queue_capacity=5)
    first = client.post("/v2/push", json=[valid("product", id=f"a{i}") for i in range(3)])
    assert first.headers["X-QueueSize-Remaining"] == "2"
    full = client.post("/v2/push", json=[valid("product", id=f"b{i}") for i in range(3)])
    body = _problem(full, 429)
    assert "queue" in body["detail"] and full.headers["Retry-After"] == "1"
    fits = client.post("/v2/push", json=[valid("product", id=f"c{i}") for i in range(2)])
    assert fits.status_code == 202 and fits.headers["X-QueueSize-Remaining"] == "0"
    assert client.post("/__sandbox/process").json() == {"processed": 5, "stored": 5, "failed": 0}
    after = client.post("/v2/push", json=[valid("product", id="d")])
    assert after.headers["X-QueueSize-Remaining"] == "4"
    assert [r["status"] for r in client.get("/__sandbox/requests").json()] == [202, 429, 202, 202]


def test_async_validation_shows_only_in_errors(client, valid) -> None:
    bad = valid("contact", id="c-bad", gender="female")
    response = client.post("/v2/push", json=[valid("contact"), bad])
    assert response.status_code == 202
    assert response.json()["accepted"] == 2 and response.json()["rejected"] == 0
    errors = client.get("/v2/push/_errors").json()
    assert errors == [
        {
            "error_message": "not a valid value",
            "error_path": "root > gender",
            "record_id": "c-bad",
            "record_type": "contact",
            "request_id": response.json()["request_id"],
        }
    ]
    assert [c["id"] for c in _stored(client, "contact")] == ["contact-1"]


def test_sync_rejects_counts_rejected_and_lists_errors(make_client, valid) -> None:
    client = make_client(sync_rejects=True, process_mode="manual")
    response = client.post("/v2/push", json=[valid("contact"), valid("contact", id="c-2", email="nope")])
    assert response.status_code == 202
    assert response.json()["accepted"] == 1 and response.json()["rejected"] == 1
    assert [e["error_path"] for e in client.get("/v2/push/_errors").json()] == ["root > email"]
    assert client.get("/__sandbox/requests").json()[0]["rejected"] == 1
    assert client.get("/__sandbox/stats").json()["queued"] == 1


def test_manual_processing_window(make_client, valid) -> None:
    client = make_client(process_mode="manual")
    response = client.post("/v2/push", json=[valid("product"), valid("product", id="p-bad", price="1")])
    assert response.status_code == 202 and response.json()["accepted"] == 2
    assert client.get("/v2/products/sku-1").status_code == 404
    assert client.get("/v2/push/_errors").json() == []
    assert client.get("/__sandbox/stats").json()["queued"] == 2
    assert client.post("/__sandbox/process").json() == {"processed": 2, "stored": 1, "failed": 1}
    assert client.get("/v2/products/sku-1").json() == valid("product")
    assert [e["error_path"] for e in client.get("/v2/push/_errors").json()] == ["root > price"]


def test_errors_endpoint_lists_newest_100(client, valid) -> None:
    for batch in range(2):
        records = [valid("product", id=f"p{batch}-{i}", price="x") for i in range(60)]
        assert client.post("/v2/push", json=records).status_code == 202
    errors = client.get("/v2/push/_errors").json()
    assert len(errors) == 100
    assert errors[0]["record_id"] == "p1-59" and errors[-1]["record_id"] == "p0-20"
    assert client.get("/__sandbox/stats").json()["errors"] == 120


def test_fault_injection(client, valid) -> None:
    fault = client.post("/__sandbox/faults", json={"status": 503, "times": 2, "retry_after": 1})
    assert fault.json()["fault"] == {"status": 503, "times": 2, "retry_after": 1}
    first = client.post("/v2/push", json=[valid("product")])
    assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    assert client.post("/v2/push", json=[valid("product")]).status_code == 503
    assert client.post("/v2/push", json=[valid("product")]).status_code == 202
    assert [r["status"] for r in client.get("/__sandbox/requests").json()] == [503, 503, 202]
    assert client.post("/__sandbox/faults", json={"status": 418}).status_code == 400


def test_latency_fault(client, valid) -> None:
    assert client.post("/__sandbox/faults", json={"latency_seconds": 0.2}).status_code == 200
    start = time.monotonic()
    assert client.post("/v2/push", json=[valid("product")]).status_code == 202
    assert time.monotonic() - start >= 0.2


def test_reset_forgets_account_only(client, valid) -> None:
    client.post("/v2/push", json=[valid("product")])
    other = {"X-Ometria-Auth": "sandbox-test-key-B"}
    client.post("/v2/push", json=[valid("product")], headers=other)
    assert client.post("/__sandbox/reset").json() == {"status": "reset"}
    _assert_nothing_stored(client)
    assert client.get("/__sandbox/requests").json() == []
    assert len(client.get("/__sandbox/records", headers=other).json()) == 1


def test_no_delete_or_other_methods_under_v2(client, valid) -> None:
    client.post("/v2/push", json=[valid("product")])
    assert client.delete("/v2/products/sku-1").status_code == 405
    assert client.delete("/v2/push").status_code == 405
    assert client.put("/v2/push", json=[]).status_code == 405
    assert client.get("/v2/push").status_code == 405
    assert client.delete("/v2/contacts/contact-1").status_code == 405
    assert client.post("/v2/profiles", json={}).status_code == 404
    assert client.get("/v2/products/sku-1").status_code == 200


def test_chaos_rejects_and_fails_a_seeded_share_of_valid_records(client, valid) -> None:
    assert client.post("/__sandbox/faults", json={"reject_rate": 1.5}).status_code == 400
    chaos = client.post("/__sandbox/faults", json={"reject_rate": 0.2, "async_error_rate": 0.2, "seed": 3})
    assert chaos.json()["reject_rate"] == 0.2 and chaos.json()["async_error_rate"] == 0.2
    records = [{**valid("product"), "id": f"p-{i}"} for i in range(100)]
    answer = client.post("/v2/push", json=records).json()
    client.post("/__sandbox/process")
    stats = client.get("/__sandbox/stats").json()
    rejected, failed = stats["injected"]["rejected"], stats["injected"]["async_errors"]
    assert answer["rejected"] == rejected and 5 < rejected < 40 and 5 < failed < 40
    assert stats["records"]["product"] == 100 - rejected - failed
    errors = client.get("/v2/push/_errors").json()
    assert len(errors) == rejected + failed and all(e["record_id"].startswith("p-") for e in errors)
    # Stopped, every record is stored again.
    client.post("/__sandbox/faults", json={"reject_rate": 0, "async_error_rate": 0})
    assert client.post("/v2/push", json=records).json()["rejected"] == 0
    client.post("/__sandbox/process")
    stats = client.get("/__sandbox/stats").json()
    assert stats["records"]["product"] == 100
    # The records stored the first time were applied again with nothing new.
    assert stats["repeated"] == 100 - rejected - failed
