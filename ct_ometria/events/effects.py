"""What a plan of messages does in Ometria: the affected products, contacts and orders are read
again and delivered through the ledger (products first, then contacts, then orders, so references
resolve); deleted products go inactive; deleted customers get a data-deletion request."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ct_ometria.commercetools.client import CommercetoolsClient
from ct_ometria.config import MappingConfig
from ct_ometria.delivery import Delivery, candidates, deliver, merge_reports, rejected
from ct_ometria.events.messages import (
    CONTACT,
    CUSTOMER_DELETED,
    ORDER,
    PAYMENT,
    PRODUCT,
    PRODUCT_DELETED,
    MessagePlan,
)
from ct_ometria.ledger.events import SENT, EventStore
from ct_ometria.ledger.store import Candidate, Ledger
from ct_ometria.canonical import canonical_bytes
from ct_ometria.errors import UpstreamError, UpstreamUnavailable
from ct_ometria.mapping.frames import orders_frame, products_frame
from ct_ometria.mapping.stores import StoreContext
from ct_ometria.ometria.client import OmetriaClient
from ct_ometria.refresh import (
    CUSTOMER_SOURCE,
    ORDER_SOURCE,
    PRODUCT_SOURCE,
    contacts_of,
    create_only_fields,
    documents_frame,
    fetch_frame,
    line_products,
    mark_sent_suppressed,
    pull_products_forward,
)
from ct_ometria.validation import valid_rows

NOT_NEEDED = "not_needed"
FAILED = "failed"
# Ometria takes 6 data-deletion requests per minute; the rest wait in the ledger for a later run.
DELETIONS_PER_MINUTE = 6


@dataclass
class EffectReport:
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    refreshed: Counter = field(default_factory=Counter)
    gone: dict[str, list[str]] = field(default_factory=dict)
    parked: int = 0
    deactivated: int = 0
    pulled_forward: int = 0
    deletions: Counter = field(default_factory=Counter)
    # (resource type, id) -> (version, sequence number) each effect was computed from
    versions: dict[tuple[str, str], tuple[int, int | None]] = field(default_factory=dict)

    def add(self, record_type: str, delivery: Delivery) -> None:
        if record_type in self.deliveries:
            into = self.deliveries[record_type]
            merge_reports(into.report, delivery.report)
            into.plan.new += delivery.plan.new
            into.plan.changed += delivery.plan.changed
            into.plan.unchanged += delivery.plan.unchanged
            into.plan.stale += delivery.plan.stale
            into.parked += delivery.parked
            into.harvested += delivery.harvested
        else:
            self.deliveries[record_type] = delivery

    def sent(self, record_type: str) -> int:
        delivery = self.deliveries.get(record_type)
        return delivery.report.sent if delivery else 0

    @property
    def failures(self) -> list[str]:
        found = []
        for record_type, delivery in self.deliveries.items():
            found += [f"{record_type} batch refused: {failed.reason}" for failed in delivery.report.failed]
            found += [f"{record_type} {r.record_id} refused: {r.reason}" for r in delivery.report.refused]
        return found


@dataclass
class Effects:
    """Everything an effect needs; Dagster-free so tests and scripts can drive it."""

    ct: CommercetoolsClient
    ometria: OmetriaClient
    ledger: Ledger
    config: MappingConfig
    stores: dict[str, StoreContext]
    run_id: str | None = None
    stage: str = "ometria_message_events"
    log: Callable[[str], None] = lambda _: None

    @property
    def events(self) -> EventStore:
        return EventStore(self.ledger)

    def _park(self, frame: pd.DataFrame, record_type: str, stage: str, payload: str | None = None) -> int:
        letters = rejected(frame, record_type, stage, payload)
        return self.ledger.park(letters) if letters else 0

    def _versions(self, report: EffectReport, resource_type: str, frame: pd.DataFrame) -> None:
        for row in frame.itertuples(index=False):
            if row.id is not None and row.version is not None and not pd.isna(row.version):
                report.versions[(resource_type, str(row.id))] = (int(row.version), None)

    # ---- per entity --------------------------------------------------------------------------

    def products(self, report: EffectReport, frame: pd.DataFrame) -> None:
        mapped = products_frame(frame, self.stores, self.config, dt.datetime.now(dt.timezone.utc))
        report.parked += self._park(frame, "ct_product", self.stage, "document") + self._park(mapped, "product", self.stage)
        rows = valid_rows(mapped).sort_values("is_variant", kind="stable")
        report.add("product", deliver(self.ometria, self.ledger, candidates(rows, "product"), run_id=self.run_id, stage=self.stage))
        report.refreshed["product"] += len(valid_rows(frame))
        self._versions(report, "product", valid_rows(frame))

    def contacts(self, report: EffectReport, frame: pd.DataFrame) -> None:
        contacts = contacts_of(self.ct, frame, self.config, self.ledger)
        report.parked += self._park(frame, "customer", self.stage, "document") + self._park(contacts, "contact", self.stage)
        create_only = create_only_fields(self.config)
        report.add("contact", deliver(self.ometria, self.ledger, candidates(contacts, "contact", create_only),
                                      run_id=self.run_id, stage=self.stage, create_only=create_only))  # fmt: skip
        mark_sent_suppressed(contacts, self.ledger)
        report.refreshed["customer"] += len(valid_rows(frame))
        self._versions(report, "customer", valid_rows(frame))

    def orders(self, report: EffectReport, frame: pd.DataFrame) -> None:
        mapped = orders_frame(frame, self.stores, self.config)
        report.parked += self._park(frame, "ct_order", self.stage, "document") + self._park(mapped, "order", self.stage)
        forward = pull_products_forward(self.ct, self.ometria, self.ledger, self.config, self.stores,
                                        line_products(frame, mapped),
                                        run_id=self.run_id, stage=self.stage)  # fmt: skip
        report.pulled_forward += forward.sent
        report.add("order", deliver(self.ometria, self.ledger, candidates(mapped, "order"), run_id=self.run_id, stage=self.stage))
        report.refreshed["order"] += len(valid_rows(frame))
        self._versions(report, "order", valid_rows(frame))

    def deactivate_products(self, report: EffectReport, product_ids: list[str]) -> None:
        """A deleted product cannot be read any more: each record Ometria holds for it goes inactive."""
        records = self.ledger.records_of_sources("product", product_ids)
        items = []
        for source_id, found in records.items():
            for record in found:
                body = canonical_bytes({"@type": "product", "id": record["record_id"], "is_active": False, "@merge": True})
                items.append(Candidate("product", record["record_id"], hashlib.sha256(body).hexdigest(), body,
                                       source_id=source_id))  # fmt: skip
        if items:
            delivery = deliver(self.ometria, self.ledger, items, run_id=self.run_id, stage=self.stage)
            report.add("product", delivery)
            report.deactivated += delivery.report.sent

    def queue_deletions(self, report: EffectReport, customer_ids: list[str]) -> None:
        records = self.ledger.records_of_sources("contact", customer_ids)
        for customer_id in customer_ids:
            hashes = [r["identity_hash"] for r in records.get(customer_id, []) if r["identity_hash"]]
            if hashes:
                queued = self.events.queue_deletion(customer_id, hashes[0])
            else:
                # Ometria never received this customer: there is nothing of theirs to erase.
                queued = self.events.queue_deletion(customer_id, None, NOT_NEEDED, "never sent to Ometria")
                report.deletions[NOT_NEEDED] += int(queued)
            report.deletions["queued"] += int(queued and bool(hashes))

    def send_deletions(self, report: EffectReport) -> None:
        """Send queued deletion requests within Ometria's 6 per minute, counted across runs (the
        ledger knows when each went); Ometria unreachable leaves them queued for the next run."""
        events = self.events
        allowance = DELETIONS_PER_MINUTE - events.deletions_sent_since(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1))
        for request in events.pending_deletions(max(0, allowance)):
            try:
                request_id = self.ometria.request_deletion(
                    request["identity_hash"], f"commercetools customer {request['customer_id']} deleted"
                )
            except UpstreamUnavailable as error:
                self.log(f"data-deletion requests wait for the next run: {error}")
                break
            except UpstreamError as error:
                events.mark_deletion(request["customer_id"], FAILED, reason=str(error))
                report.deletions[FAILED] += 1
                continue
            events.mark_deletion(request["customer_id"], SENT, request_id)
            report.deletions["sent"] += 1
        report.deletions["waiting"] = len(events.pending_deletions(1000))

    # ---- a whole plan ------------------------------------------------------------------------

    def apply(self, plan: MessagePlan) -> EffectReport:
        report = EffectReport()
        effects = plan.effects
        if effects[PRODUCT]:
            frame, missing = fetch_frame(self.ct, PRODUCT_SOURCE, effects[PRODUCT])
            report.gone["product"] = missing
            self.products(report, frame)
        if effects[PRODUCT_DELETED]:
            self.deactivate_products(report, effects[PRODUCT_DELETED])
        if effects[CONTACT]:
            frame, missing = fetch_frame(self.ct, CUSTOMER_SOURCE, effects[CONTACT])
            report.gone["customer"] = missing
            self.contacts(report, frame)
        order_ids = list(effects[ORDER])
        if effects[PAYMENT]:
            order_ids += [o["id"] for o in self._orders_of_payments(effects[PAYMENT]) if o["id"] not in order_ids]
        if order_ids:
            frame, missing = fetch_frame(self.ct, ORDER_SOURCE, order_ids)
            report.gone["order"] = missing
            self.orders(report, frame)
        if effects[CUSTOMER_DELETED]:
            self.queue_deletions(report, effects[CUSTOMER_DELETED])
        self.send_deletions(report)
        # Resources without a refresh of their own (payments, deletions): the message's version.
        for resource_type, found in plan.resources.items():
            for resource_id, (version, sequence) in found.items():
                current = report.versions.get((resource_type, resource_id))
                if current is None or current[0] < version:
                    report.versions[(resource_type, resource_id)] = (version, sequence)
        return report

    def resync(self, since: dt.datetime) -> EffectReport:
        """The fallback when messages were lost to retention: every customer, order and product
        modified since ``since`` is read and delivered (the ledger skips what Ometria already has)."""
        report = EffectReport()
        until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
        for source, apply in ((PRODUCT_SOURCE, self.products), (CUSTOMER_SOURCE, self.contacts), (ORDER_SOURCE, self.orders)):
            for page in self.ct.modified_between(source.resource, since, until, expand=source.expand):
                apply(report, documents_frame(self.ct, source, page))
        self.send_deletions(report)
        return report

    def _orders_of_payments(self, payment_ids: list[str]) -> list[dict[str, Any]]:
        found = []
        for start in range(0, len(payment_ids), 100):
            params = [("where", "paymentInfo(payments(id in :ids))"), ("limit", "500"), ("withTotal", "false")]
            params += [("var.ids", i) for i in payment_ids[start : start + 100]]
            found += self.ct.get("/orders", params).get("results", [])
        return found

