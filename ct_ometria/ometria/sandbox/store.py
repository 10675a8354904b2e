"""In-memory per-account state of the sandbox: records, async queue, errors, request log, rate limiters."""

from __future__ import annotations

import hmac
import random
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .config import SandboxConfig
from .identity import IdentityIndex
from .ratelimit import SlidingWindowLimiter
from .rules import MAX_EVENT_TYPE_CHARS, RECORD_TYPES, validate_record

CONTROL_FIELDS = frozenset({"@merge", "@force_optin", "@add_to_lists", "@remove_from_lists"})
ERRORS_LISTED = 100  # GET /v2/push/_errors returns the newest 100
ERRORS_KEPT = 1_000
DEFAULT_COLLECTION = "default"

RecordKey = tuple[str, str, str]  # (@type, @collection or "", id)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_key(record_type: str, record_id: str, collection: str | None = None) -> RecordKey:
    if record_type == "contact":
        return (record_type, collection or DEFAULT_COLLECTION, record_id)
    return (record_type, "", record_id)


@dataclass
class Queued:
    request_id: str
    record: dict[str, Any]


class Account:
    """Everything one API key owns. All mutation happens under ``self.lock``."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.push_limiter = SlidingWindowLimiter(config.push_rate_per_second)
        self.rest_limiter = SlidingWindowLimiter(config.rest_rate_per_second)
        self.deletion_limiter = SlidingWindowLimiter.per_window(config.deletion_requests_per_minute, 60.0)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.records: dict[RecordKey, dict[str, Any]] = {}
            # Kept as records are stored, so the stats answer at once however many there are: counting
            # them on each request held the lock, and every push arriving meanwhile, for a second at
            # 700,000 records. Revenue per currency as [orders, millionths of a unit], so taking an
            # order's total back is exact.
            self._counts = dict.fromkeys(RECORD_TYPES, 0)
            self._revenue: dict[str, list[int]] = {}
            self.contact_meta: dict[RecordKey, dict[str, Any]] = {}
            self.identity = IdentityIndex()
            self.queue: deque[Queued] = deque()
            self.errors: deque[dict[str, Any]] = deque(maxlen=ERRORS_KEPT)
            self.error_count = 0
            self.requests: list[dict[str, Any]] = []
            self.throttled = 0
            self.fault: dict[str, Any] | None = None
            # Faults on valid records (the reliability suite): a share rejected on arrival, a share
            # failing later with an asynchronous error; drawn from a seeded stream.
            self.chaos: dict[str, float] = {"reject_rate": 0.0, "async_error_rate": 0.0}
            self.chaos_random = random.Random(0)
            self.injected = {"rejected": 0, "async_errors": 0}
            self.repeated = 0
            self.latency_seconds = self.config.latency_seconds
            self.deletion_requests: list[dict[str, Any]] = []
            self.push_limiter.reset()
            self.rest_limiter.reset()
            self.deletion_limiter.reset()

    # ---- queue -------------------------------------------------------------------------------
    @property
    def queue_remaining(self) -> int:
        return max(0, self.config.queue_capacity - len(self.queue))

    def enqueue(self, records: list[dict[str, Any]], request_id: str) -> int:
        """Queue accepted records; with ``sync_rejects`` invalid ones are rejected now. Returns the rejected count."""
        rejected = 0
        with self.lock:
            for record in records:
                if self._chaos("reject_rate"):
                    self.injected["rejected"] += 1
                    self._add_errors([("root", "injected fault: rejected on arrival")], record, request_id)
                    rejected += 1
                    continue
                if self.config.sync_rejects:
                    errors = self.validate(record, include_queued_products=True)
                    if errors:
                        self._add_errors(errors, record, request_id)
                        rejected += 1
                        continue
                self.queue.append(Queued(request_id, record))
        return rejected

    def process(self) -> dict[str, int]:
        """Validate and apply everything queued, in arrival order, one record per hold of the lock.

        Not the whole queue in one hold: the push handler takes this lock on the event loop before
        it counts a request against the rate, so while a queue of hundreds of records was processed,
        every arriving push waited, then all were counted at once, a burst the sender never sent
        (429s for a client that kept to the rate)."""
        stored = failed = 0
        while True:
            with self.lock:
                if not self.queue:
                    break
                item = self.queue.popleft()
                errors = self.validate(item.record)
                if not errors and self._chaos("async_error_rate"):
                    self.injected["async_errors"] += 1
                    errors = [("root", "injected fault: failed in processing")]
                if errors:
                    self._add_errors(errors, item.record, item.request_id)
                    failed += 1
                else:
                    self._apply(item.record, item.request_id)
                    stored += 1
        return {"processed": stored + failed, "stored": stored, "failed": failed}

    def _chaos(self, kind: str) -> bool:
        rate = self.chaos[kind]
        return rate > 0 and self.chaos_random.random() < rate

    def validate(self, record: dict[str, Any], *, include_queued_products: bool = False) -> list[tuple[str, str]]:
        def product_exists(product_id: str) -> bool:
            if ("product", "", product_id) in self.records:
                return True
            return include_queued_products and any(
                q.record.get("@type") == "product" and q.record.get("id") == product_id for q in self.queue
            )

        # A record for an existing id is a partial update: required fields may come from the stored record,
        # so what gets validated is the record as it would be stored.
        existing = self._existing(record)
        candidate = {**existing, **record} if existing is not None else record
        return validate_record(
            candidate,
            strict_required=self.config.strict_required,
            known_event_types=self.config.known_event_types,
            product_exists=product_exists,
        )

    # ---- storage -----------------------------------------------------------------------------
    def _existing(self, record: dict[str, Any]) -> dict[str, Any] | None:
        record_id = record.get("id")
        if not isinstance(record_id, str) or record.get("@type") not in ("contact", "order", "product", "custom_event"):
            return None
        collection = record.get("@collection") if isinstance(record.get("@collection"), str) else None
        return self.records.get(record_key(record["@type"], record_id, collection))

    def _apply(self, record: dict[str, Any], request_id: str) -> None:
        record_type = record["@type"]
        data = {k: v for k, v in record.items() if k not in CONTROL_FIELDS}
        if record_type == "contact":
            data["@collection"] = data.get("@collection") or DEFAULT_COLLECTION
        if record_type == "custom_event" and isinstance(data.get("event_type"), str):
            data["event_type"] = data["event_type"][:MAX_EVENT_TYPE_CHARS]
        key = record_key(record_type, data["id"], data.get("@collection"))
        existing = self.records.get(key)
        # Upsert: supplied top-level fields replace stored ones (so product `attributes` are replaced
        # wholesale); unset fields keep their stored values, with or without `@merge: true`.
        merged = {**existing, **data} if existing is not None else data
        if merged == existing:
            self.repeated += 1  # applied again with nothing new: a duplicate side effect of a resend
        if record_type == "contact":
            self.identity.claim(key, merged, request_id)
            self._update_contact_meta(key, record)
        if existing is None:
            self._counts[record_type] += 1
        elif record_type == "order":
            self._count_revenue(existing, -1)
        if record_type == "order":
            self._count_revenue(merged, 1)
        self.records[key] = merged

    def _count_revenue(self, order: dict[str, Any], sign: int) -> None:
        """Add (or take back) an order's ``grand_total``; ``is_valid: false`` orders earn nothing."""
        total = order.get("grand_total")
        if order.get("is_valid") is False or not isinstance(total, (int, float)) or isinstance(total, bool):
            return
        try:
            micros = round(total * 1_000_000)
        except (OverflowError, ValueError):
            return  # beyond what a float holds: no revenue any report could show
        entry = self._revenue.setdefault(order.get("currency") or "?", [0, 0])
        entry[0] += sign
        entry[1] += sign * micros

    def _update_contact_meta(self, key: RecordKey, record: dict[str, Any]) -> None:
        meta = self.contact_meta.setdefault(key, {"force_optin": False, "lists": []})
        if isinstance(record.get("@force_optin"), bool):
            meta["force_optin"] = record["@force_optin"]
        lists = list(meta["lists"])
        for list_id in record.get("@add_to_lists") or []:
            if list_id not in lists:
                lists.append(list_id)
        removed = set(record.get("@remove_from_lists") or [])
        meta["lists"] = [x for x in lists if x not in removed]

    def get(self, record_type: str, record_id: str, collection: str | None = None) -> dict[str, Any] | None:
        with self.lock:
            return self.records.get(record_key(record_type, record_id, collection))

    def list_records(self, record_type: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [r for (t, _, _), r in self.records.items() if record_type is None or t == record_type]

    # ---- errors, requests, stats -------------------------------------------------------------
    def _add_errors(self, errors: list[tuple[str, str]], record: dict[str, Any], request_id: str) -> None:
        record_id = record.get("id") if isinstance(record.get("id"), (str, int)) else None
        for error_path, error_message in errors:
            self.error_count += 1
            self.errors.append(
                {
                    "error_message": error_message,
                    "error_path": error_path,
                    "record_id": record_id,
                    "record_type": record.get("@type"),
                    "request_id": request_id,
                }
            )

    def recent_errors(self, limit: int = ERRORS_LISTED) -> list[dict[str, Any]]:
        """Newest first."""
        with self.lock:
            return list(reversed(self.errors))[:limit]

    def log_request(self, request_id: str, status: int, records: list[Any] | None, rejected: int = 0,
                    received_at: str | None = None) -> None:  # fmt: skip
        types = {r.get("@type") for r in records or [] if isinstance(r, dict)}
        with self.lock:
            if status == 429:
                self.throttled += 1
            self.requests.append(
                {
                    "request_id": request_id,
                    "status": status,
                    "record_count": len(records) if records is not None else 0,
                    "record_ids": [r.get("id") for r in records or [] if isinstance(r, dict)],
                    "type": types.pop() if len(types) == 1 else ("mixed" if types else None),
                    "received_at": received_at or utc_now(),
                    "rejected": rejected,
                }
            )

    def take_fault(self) -> dict[str, Any] | None:
        with self.lock:
            if not self.fault or self.fault["times"] <= 0:
                return None
            self.fault["times"] -= 1
            fault = dict(self.fault)
            if self.fault["times"] <= 0:
                self.fault = None
            return fault

    def revenue(self) -> dict[str, float]:
        """Sum of ``grand_total`` per currency over stored orders, excluding ``is_valid: false`` orders."""
        with self.lock:
            return {currency: micros / 1_000_000 for currency, (orders, micros) in self._revenue.items() if orders}

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "records": dict(self._counts),
                "queued": len(self.queue),
                "errors": self.error_count,
                "requests": len(self.requests),
                "throttled": self.throttled,
                "revenue": self.revenue(),
                "identity_conflicts": len(self.identity.conflicts),
                "injected": dict(self.injected),
                "repeated": self.repeated,
            }


class SandboxStore:
    """One :class:`Account` per configured API key."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._accounts = [(key, Account(config)) for key in config.api_keys]

    def account_for(self, api_key: str | None) -> Account | None:
        if not api_key:
            return None
        found = None
        for key, account in self._accounts:  # compare every key in constant time
            if hmac.compare_digest(key.encode(), api_key.encode()):
                found = account
        return found
