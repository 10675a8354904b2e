"""Fixtures for the Ometria sandbox tests (no dagster needed)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette 1.x suggests httpx2 for its TestClient; httpx 0.28 is what we ship
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from ct_ometria.ometria.sandbox import SandboxConfig, create_app

KEY = "sandbox-test-key-A"
OTHER_KEY = "sandbox-test-key-B"

VALID: dict[str, dict[str, Any]] = {
    "contact": {
        "@type": "contact",
        "id": "contact-1",
        "email": "jane@example.com",
        "firstname": "Jane",
        "marketing_optin": "EXPLICITLY_OPTEDIN",
    },
    "product": {"@type": "product", "id": "sku-1", "title": "Mug", "price": 9.5, "is_active": True},
    "order": {
        "@type": "order",
        "id": "order-1",
        "timestamp": "2024-05-01T10:00:00+00:00",
        "grand_total": 19.0,
        "currency": "GBP",
        "status": "complete",
        "is_valid": True,
        "lineitems": [{"product_id": "sku-1", "quantity": 2, "unit_price": 9.5}],
    },
    "custom_event": {
        "@type": "custom_event",
        "id": "evt-1",
        "event_type": "wishlist_add",
        "timestamp": "2024-05-01T10:00:00+00:00",
        "identity_email": "jane@example.com",
        "properties": {"note": "hi"},
    },
}


@pytest.fixture
def valid() -> Callable[..., dict[str, Any]]:
    """``valid("order", id="o-2")``: a deep copy of a valid record with top-level overrides."""

    def make(record_type: str, **overrides: Any) -> dict[str, Any]:
        record = copy.deepcopy(VALID[record_type])
        record.update(overrides)
        return record

    return make


@pytest.fixture
def make_client() -> Callable[..., TestClient]:
    """TestClient on a fresh app; rates are high unless a test overrides them."""

    def make(**overrides: Any) -> TestClient:
        settings: dict[str, Any] = {"push_rate_per_second": 10_000, "rest_rate_per_second": 10_000}
        settings.update(overrides)
        config = SandboxConfig(api_keys=[KEY, OTHER_KEY], **settings)
        return TestClient(create_app(config), headers={"X-Ometria-Auth": KEY})

    return make


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
