"""Replaying dead letters: after the data (in commercetools) or the mapping config was fixed, read
the parked records' sources again, re-validate and re-map them with the current config, and send
what now passes. What still fails stays parked, with its new reason and one more attempt."""

import datetime as dt

from dagster import Config, Failure, MetadataValue, OpExecutionContext, job, op

from ct_ometria.commercetools.frames import CUSTOMERS, ORDERS, PRODUCTS, entity_frame
from ct_ometria.commercetools.resolve import fetch_by_ids, fetch_stores, order_contexts, product_contexts
from ct_ometria.defs.resources import CommercetoolsResource, LedgerResource, MappingConfigResource, OmetriaResource
from ct_ometria.delivery import candidates, deliver, rejected
from ct_ometria.mapping.frames import contacts_frame, orders_frame, products_frame
from ct_ometria.mapping.stores import resolve_stores
from ct_ometria.validation import valid_rows

# Which commercetools resource a dead letter's source lives in, by the letter's record type.
SOURCES = {
    "customer": "customers", "contact": "customers",
    "ct_order": "orders", "order": "orders", "ct_product": "products", "product": "products",
}  # fmt: skip


class ReplayConfig(Config):
    """Which open dead letters to replay: by ``record_type``, by ``record_ids``, or ``all`` of them."""

    record_type: str | None = None
    record_ids: list[str] = []
    all: bool = False


@op(description="Re-read, re-validate, re-map and resend the selected open dead letters.", pool="ometria")
def replay_dead_letters_op(
    context: OpExecutionContext, config: ReplayConfig, commercetools: CommercetoolsResource,
    ometria: OmetriaResource, mapping: MappingConfigResource, ledger: LedgerResource,
) -> None:  # fmt: skip
    if not (config.all or config.record_type or config.record_ids):
        raise Failure("say which dead letters to replay: a record type, record ids, or all")
    store = ledger.open()
    letters = [
        letter for letter in store.dead_letters(record_type=config.record_type)
        if not config.record_ids or letter["record_id"] in config.record_ids
    ]  # fmt: skip
    sources: dict[str, set[str]] = {}
    unknown = []
    for letter in letters:
        resource = SOURCES.get(letter["record_type"])
        source_id = letter["source_id"] or (letter["record_id"] if letter["record_type"] in ("customer", "contact") else None)
        if resource and source_id:
            sources.setdefault(resource, set()).add(source_id)
        else:
            unknown.append(letter["record_id"])
    settings = mapping.load()
    summary = {"letters": len(letters), "without_source": len(unknown)}
    with commercetools.client() as ct, ometria.client() as client:
        stores = resolve_stores(*fetch_stores(ct), settings)
        now = dt.datetime.now(dt.timezone.utc)
        # Products before the orders that reference them.
        for resource in ("customers", "products", "orders"):
            ids = sources.get(resource)
            if not ids:
                continue
            if resource == "customers":
                documents = list(fetch_by_ids(ct, "customers", ids, expand=("customerGroup",)).values())
                raw = entity_frame(documents, CUSTOMERS)
                mapped, record_type, raw_type = contacts_frame(raw, settings), "contact", "customer"
            elif resource == "orders":
                documents = list(fetch_by_ids(ct, "orders", ids).values())
                raw = entity_frame(documents, ORDERS, order_contexts(ct, documents))
                mapped, record_type, raw_type = orders_frame(raw, stores, settings), "order", "ct_order"
            else:
                documents = list(fetch_by_ids(ct, "products", ids).values())
                raw = entity_frame(documents, PRODUCTS, product_contexts(ct, documents))
                mapped, record_type, raw_type = products_frame(raw, stores, settings, now), "product", "ct_product"
            gone = sorted(ids - {document["id"] for document in documents})
            store.park(
                [{"record_type": raw_type, "record_id": source_id, "stage": f"ct_{resource}", "source_id": source_id,
                  "reason": "no longer in commercetools"} for source_id in gone]
                # The same stages as the sync, so a letter still failing counts one more attempt.
                + rejected(raw, raw_type, f"ct_{resource}", "document")
                + rejected(mapped, record_type, f"ometria_{record_type}s")
            )  # fmt: skip
            items = candidates(valid_rows(mapped), record_type)
            delivery = deliver(client, store, items, run_id=context.run.run_id, stage="replay")
            # A record Ometria already holds unchanged resolves its letters without a push.
            store.resolve(record_type, [item.record_id for item in delivery.plan.unchanged])
            summary[f"{resource}_sent"] = delivery.report.sent
            summary[f"{resource}_still_invalid"] = int(mapped["rejection"].notna().sum()) + int(raw["rejection"].notna().sum())
            summary[f"{resource}_gone"] = len(gone)
    summary["still_open"] = sum(store.open_counts().values())
    context.add_output_metadata({key: MetadataValue.int(value) for key, value in summary.items()})
    context.log.info(f"replayed dead letters: {summary}")


@job(description="Replay dead letters after the data or the config was fixed (config: record_type, record_ids, all).")
def replay_dead_letters() -> None:
    replay_dead_letters_op()
