"""Mapping and sync assets: commercetools frames become Ometria records, then reach Ometria.

Delivery order follows Ometria's linking rules: products and contacts sync before the orders that
reference them, and an order line whose product is not in the run is sent after pulling that product
forward from commercetools.
"""

import datetime as dt
import json
import time

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ct_ometria.commercetools.consent import checkout_guests, consent_by_customer
from ct_ometria.commercetools.frames import CUSTOMERS, entity_frame
from ct_ometria.commercetools.resolve import fetch_by_ids, fetch_stores
from ct_ometria.config import MappingConfig
from ct_ometria.defs.extract import mapped_output
from ct_ometria.defs.metadata import md_table
from ct_ometria.defs.partitions import backfill_policy, daily_freshness, daily_partitions
from ct_ometria.defs.resources import CommercetoolsResource, LedgerResource, MappingConfigResource, OmetriaResource
from ct_ometria.defs.sync import PushConfig, sync_records
from ct_ometria.delivery import candidates
from ct_ometria.mapping.frames import CONTACTS_SCHEMA, contacts_frame, guest_contacts_frame, orders_frame, products_frame
from ct_ometria.mapping.stores import StoreContext, resolve_stores
from ct_ometria.reconcile import reconcile
from ct_ometria.refresh import create_only_fields, line_products, mark_sent_suppressed, no_revived_opt_ins, pull_products_forward
from ct_ometria.validation import apply_schema, valid_rows

CONTACTS_VALID, CONTACTS_ACCEPTED = "contacts_valid", "contacts_accepted"
ORDERS_VALID, ORDERS_ACCEPTED = "orders_valid", "orders_accepted"
PRODUCTS_VALID, PRODUCTS_ACCEPTED = "products_valid", "products_accepted"

MAPPING = dict(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    freshness_policy=daily_freshness,
    group_name="ometria",
    kinds={"pandas", "parquet"},
    io_manager_key="frames_io_manager",
)
SYNC = dict(partitions_def=daily_partitions, backfill_policy=backfill_policy, freshness_policy=daily_freshness, pool="ometria",
            group_name="ometria", kinds={"ometria"})  # fmt: skip


def _valid_spec(check: str, asset_name: str, what: str) -> AssetCheckSpec:
    return AssetCheckSpec(check, asset=asset_name, blocking=True,
                          description=f"{what}; fails when invalid records exceed the configured tolerance.")  # fmt: skip


def _accepted_spec(check: str, asset_name: str) -> AssetCheckSpec:
    return AssetCheckSpec(check, asset=asset_name, description="Ometria accepted every batch and rejected no record.")


def store_contexts(commercetools: CommercetoolsResource, config: MappingConfig) -> dict[str, StoreContext]:
    with commercetools.client() as client:
        stores, project = fetch_stores(client)
    return resolve_stores(stores, project, config)


@asset(check_specs=[_valid_spec(CONTACTS_VALID, "ometria_contacts", "Every contact has a PII-free id and customer_id, a trimmed lower-case valid email and fits 60 KB")], **MAPPING)
def ometria_contacts(
    context: AssetExecutionContext, ct_customers: pd.DataFrame, ct_consents: pd.DataFrame,
    commercetools: CommercetoolsResource, mapping: MappingConfigResource,
):  # fmt: skip
    """Ometria contact records mapped from the valid customers of the partition(s). ``record`` holds
    the exact JSON that will be pushed: contact id = commercetools customer id (never personal
    data), ``customer_id`` by the configured strategy, email trimmed and lower-cased, phone in E.164
    (or dropped with its reason), store ids, ``@merge`` so fields not sent keep Ometria's values,
    and the consent decision: opted in only on an explicit true, opted out on an explicit false or a
    suppression, nothing without consent data. ``consent_state``/``consent_source``/``consent_value``/
    ``consent_at`` explain each decision; metadata counts contacts per state. A consent that changed
    in the window for a customer who did not (a custom object, a checkout opt-in) brings that
    customer's contact along, so an opt-out always reaches Ometria."""
    started = time.monotonic()
    config = mapping.load()
    sources = pd.concat([ct_customers, _customers_of_consents(ct_customers, ct_consents, commercetools)],
                        ignore_index=True)  # fmt: skip
    customers = contacts_frame(sources, config, consent_by_customer(ct_consents))
    known = {str(email) for email in customers["email"].dropna()}
    guests = guest_contacts_frame(checkout_guests(ct_consents), known, config)
    frame = apply_schema(pd.concat([customers, guests], ignore_index=True), CONTACTS_SCHEMA) if len(guests) else customers
    states = frame["consent_state"].value_counts()
    yield from mapped_output(
        frame, ct_customers, config, CONTACTS_VALID, "contacts",
        ("id", "customer_id", "consent_state", "consent_source", "partition"), started,
        extra={f"consent_{state}": MetadataValue.int(int(states.get(state, 0)))
               for state in ("opted_in", "opted_out", "suppressed", "no_consent")}
        | {"phones_dropped": MetadataValue.int(int(frame["phone_dropped"].notna().sum()))},
    )  # fmt: skip


@asset(check_specs=[_valid_spec(ORDERS_VALID, "ometria_orders", "Every order has a PII-free id, an ISO currency, a non-negative grand total and a known status")], **MAPPING)
def ometria_orders(
    context: AssetExecutionContext, ct_orders: pd.DataFrame, commercetools: CommercetoolsResource,
    mapping: MappingConfigResource,
):  # fmt: skip
    """Ometria order records: money exact to the currency's digits (``Decimal``, never float),
    ``grand_total`` from the taxed gross total, lines with unit price, totals, discounts and refunds,
    status from the order and shipment states (cancelled and fully refunded orders carry
    ``is_valid: false``), the customer's id and email (guests: email only), the store, coupon codes
    and addresses reduced to city, postcode and country."""
    started = time.monotonic()
    config = mapping.load()
    frame = orders_frame(ct_orders, store_contexts(commercetools, config), config)
    yield from mapped_output(frame, ct_orders, config, ORDERS_VALID, "orders",
                             ("id", "status", "currency", "grand_total", "partition"), started)  # fmt: skip


@asset(check_specs=[_valid_spec(PRODUCTS_VALID, "ometria_products", "Every product has a PII-free id, fits 60 KB and says whether it is active and a variant")], **MAPPING)
def ometria_products(
    context: AssetExecutionContext, ct_products: pd.DataFrame, ct_categories: pd.DataFrame,
    commercetools: CommercetoolsResource, mapping: MappingConfigResource,
):  # fmt: skip
    """Ometria product records: one parent per product (id by the configured strategy) with a listing
    per store (title in the store's locale, URL from the template and the localised slug, price in
    the store's currency and country, discounted price as ``special_price``, image, ``is_active``
    from publication), category paths as ``category`` attributes, allow-listed attributes, and one
    ``is_variant`` record per variant pointing to its parent."""
    started = time.monotonic()
    config = mapping.load()
    products = _with_fresh_category_paths(ct_products, ct_categories)
    frame = products_frame(products, store_contexts(commercetools, config), config, dt.datetime.now(dt.timezone.utc))
    yield from mapped_output(frame, ct_products, config, PRODUCTS_VALID, "products",
                             ("id", "parent_id", "is_variant", "is_active", "partition"), started)  # fmt: skip


def _customers_of_consents(
    customers: pd.DataFrame, consents: pd.DataFrame, commercetools: CommercetoolsResource
) -> pd.DataFrame:
    """Customers named by the window's consent rows but not modified in it, filed under the day of
    their consent change."""
    rows = valid_rows(consents)
    by_id = rows[rows["customer"].notna() & ~rows["customer"].isin(set(customers["id"]))]
    known_emails = {str(e).strip().lower() for e in customers["email"].dropna()}
    listed = rows[(rows["source"] == "suppression_list") & ~rows["email"].isin(known_emails)]
    if by_id.empty and listed.empty:
        return customers.iloc[0:0]
    day = dict(zip(by_id["customer"], by_id["partition"], strict=False))
    email_day = dict(zip(listed["email"], listed["partition"], strict=False))
    with commercetools.client() as client:
        documents = list(fetch_by_ids(client, "customers", day, expand=("customerGroup",)).values())
        for start in range(0, len(email_day), 100):
            emails = sorted(email_day)[start : start + 100]
            params = [("where", "email in :emails"), ("limit", "500"), ("withTotal", "false"), ("expand", "customerGroup")]
            documents += client.get("/customers", params + [("var.emails", e) for e in emails]).get("results", [])
    frame = entity_frame(list({d["id"]: d for d in documents}.values()), CUSTOMERS)
    days = [day.get(i) or email_day.get(str(e).strip().lower()) for i, e in zip(frame["id"], frame["email"], strict=True)]
    return frame.assign(partition=days)


def _with_fresh_category_paths(products: pd.DataFrame, categories: pd.DataFrame) -> pd.DataFrame:
    """Category paths changed in the same window win over those read with the products."""
    fresh = {row.id: json.loads(row.context)["path"] for row in valid_rows(categories).itertuples() if row.context}
    if not fresh or products.empty:
        return products

    def refresh(text: str | None) -> str | None:
        if not text:
            return text
        context = json.loads(text)
        for category_id, info in context.get("categories", {}).items():
            if category_id in fresh:
                info["path"] = fresh[category_id]
        return json.dumps(context, ensure_ascii=False, sort_keys=True)

    return products.assign(context=products["context"].map(refresh))


@asset(check_specs=[_accepted_spec(CONTACTS_ACCEPTED, "ometria_contacts_sync")], **SYNC)
def ometria_contacts_sync(
    context: AssetExecutionContext, config: PushConfig, ct_customers: pd.DataFrame, ct_consents: pd.DataFrame,
    ometria_contacts: pd.DataFrame, ometria: OmetriaResource, ledger: LedgerResource, mapping: MappingConfigResource,
):  # fmt: skip
    """Pushes the contacts that are new or changed since Ometria last accepted them (the ledger
    compares each record's hash): batches of at most 100, one request every 1/8 s, 429 and 5xx
    retried honouring ``Retry-After``. Customers, consents and contacts set aside by the checks are
    parked as dead letters with their reason."""
    store = ledger.open()
    contacts = no_revived_opt_ins(ometria_contacts, store.suppressed_since(list(valid_rows(ometria_contacts)["id"])))
    yield from sync_records(
        context, config, ometria, ledger, contacts, "contact", CONTACTS_ACCEPTED, "contacts",
        upstream=[(ct_customers, "customer", "ct_customers", "document"), (ct_consents, "consent", "ct_consents", None)],
        create_only=create_only_fields(mapping.load()),
    )  # fmt: skip
    if not config.dry_run:
        mark_sent_suppressed(contacts, store)


@asset(check_specs=[_accepted_spec(PRODUCTS_ACCEPTED, "ometria_products_sync")], **SYNC)
def ometria_products_sync(
    context: AssetExecutionContext, config: PushConfig, ct_products: pd.DataFrame, ometria_products: pd.DataFrame,
    ometria: OmetriaResource, ledger: LedgerResource,
):  # fmt: skip
    """Pushes new and changed product records (parents, then variants) before any order of the same
    run, so order lines link to known products."""
    records = valid_rows(ometria_products).sort_values("is_variant", kind="stable")
    records = pd.concat([records, ometria_products[ometria_products["rejection"].notna()]])
    yield from sync_records(
        context, config, ometria, ledger, records, "product", PRODUCTS_ACCEPTED, "products",
        upstream=[(ct_products, "ct_product", "ct_products", "document")],
    )  # fmt: skip


@asset(
    check_specs=[_accepted_spec(ORDERS_ACCEPTED, "ometria_orders_sync")],
    deps=[AssetKey("ometria_products_sync"), AssetKey("ometria_contacts_sync")],
    **SYNC,
)
def ometria_orders_sync(
    context: AssetExecutionContext, config: PushConfig, ometria_orders: pd.DataFrame, ct_orders: pd.DataFrame,
    commercetools: CommercetoolsResource, ometria: OmetriaResource, mapping: MappingConfigResource,
    ledger: LedgerResource,
):  # fmt: skip
    """Pushes new and changed orders after the run's products and contacts. A product an order line
    references that Ometria has never accepted (per the ledger) is read from commercetools and sent
    first, so a line never points at a product Ometria does not know."""
    referenced = line_products(ct_orders, ometria_orders)
    with ometria.client() as client:
        pulled = 0
        if not config.dry_run and referenced:
            settings = mapping.load()
            with commercetools.client() as ct:
                stores, project = fetch_stores(ct)
                forward = pull_products_forward(
                    ct, client, ledger.open(), settings, resolve_stores(stores, project, settings), referenced,
                    run_id=context.run.run_id, stage="ometria_orders_sync", take_turn=True,
                )  # fmt: skip
            pulled = forward.sent
            if forward.missing:
                context.log.warning(f"{len(forward.missing)} product(s) referenced by orders are not in "
                                    f"commercetools: {forward.missing[:5]}")  # fmt: skip
        yield from sync_records(
            context, config, ometria, ledger, ometria_orders, "order", ORDERS_ACCEPTED, "orders",
            upstream=[(ct_orders, "ct_order", "ct_orders", "document")], client=client,
            extra_metadata={"products_pulled_forward": MetadataValue.int(pulled)},
        )  # fmt: skip


RECONCILED = "reconciled"


class ReconciliationConfig(Config):
    """``sample_size``: records per type read back from Ometria (its read API allows 4 per second)."""

    sample_size: int = 20
    redrive: bool = True


@asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    freshness_policy=daily_freshness,
    pool="ometria",
    group_name="reconciliation",
    kinds={"ometria"},
    deps=[AssetKey("ometria_contacts_sync"), AssetKey("ometria_products_sync"), AssetKey("ometria_orders_sync")],
    check_specs=[AssetCheckSpec(RECONCILED, asset="ometria_reconciliation",
                                description="Every record commercetools held for the window is in the ledger at its "
                                            "latest version, and every sampled record is in Ometria.")],  # fmt: skip
)
def ometria_reconciliation(
    context: AssetExecutionContext, config: ReconciliationConfig, ometria_contacts: pd.DataFrame,
    ometria_orders: pd.DataFrame, ometria_products: pd.DataFrame, ometria: OmetriaResource,
    mapping: MappingConfigResource, ledger: LedgerResource,
) -> MaterializeResult:  # fmt: skip
    """Compares the records commercetools held for the partition(s) (as extracted and mapped) with the
    ledger, reads a sample back from Ometria, and re-sends whatever is missing or outdated. The check
    fails when it found gaps, naming them; the next reconciliation passes once they arrived."""
    store = ledger.open()
    collection = mapping.load().identity.contact_collection
    results = []
    with ometria.client() as client:
        for frame, record_type in ((ometria_products, "product"), (ometria_contacts, "contact"), (ometria_orders, "order")):
            results.append(
                reconcile(candidates(frame, record_type), store, client, sample_size=config.sample_size,
                          seed=context.run.run_id, collection=collection, redrive=config.redrive,
                          run_id=context.run.run_id)  # fmt: skip
            )
    table = pd.DataFrame(
        [(r.record_type, r.expected, len(r.missing_from_ledger), len(r.outdated_in_ledger), r.sampled,
          len(r.missing_in_ometria), r.redriven) for r in results],
        columns=["type", "expected", "missing_from_ledger", "outdated_in_ledger", "sampled", "missing_in_ometria",
                 "redriven"],
    )  # fmt: skip
    gaps = sum(r.gaps for r in results)
    named = [f"{r.record_type} {i}" for r in results for i in (*r.missing_from_ledger, *r.outdated_in_ledger,
                                                                  *r.missing_in_ometria)][:20]  # fmt: skip
    metadata = {
        "gaps": MetadataValue.int(gaps),
        "redriven": MetadataValue.int(sum(r.redriven for r in results)),
        "summary": md_table(table, list(table.columns), 5),
    }
    return MaterializeResult(
        metadata=metadata,
        check_results=[
            AssetCheckResult(
                check_name=RECONCILED, passed=gaps == 0, severity=AssetCheckSeverity.ERROR,
                description="no gaps" if gaps == 0 else f"{gaps} gap(s) found and re-driven: {', '.join(named)}",
                metadata={"gaps": gaps},
            )
        ],
    )  # fmt: skip
