"""Extraction assets: commercetools documents for a window of ``lastModifiedAt``."""

import pandas as pd
from dagster import AssetCheckSpec, AssetExecutionContext, Failure, MetadataValue, Output, asset

from ct_ometria.commercetools.consent import (
    check_consent_fields,
    consent_frame,
    customer_emails,
    fetch_consent_objects,
    fetch_suppressed,
)
from ct_ometria.commercetools.frames import CATEGORIES, CUSTOMERS, ORDERS, PRODUCTS
from ct_ometria.commercetools.client import CommercetoolsClient
from ct_ometria.commercetools.resolve import localized_path, order_contexts, product_contexts
from ct_ometria.defs.extract import extract
from ct_ometria.errors import ConfigError
from ct_ometria.defs.metadata import PREVIEW_ROWS, md_table, validation_check
from ct_ometria.defs.partitions import backfill_policy, daily_freshness, daily_partitions
from ct_ometria.defs.resources import CommercetoolsResource, MappingConfigResource
from ct_ometria.validation import judge

CUSTOMERS_VALID = "customers_valid"
ORDERS_VALID = "orders_valid"
PRODUCTS_VALID = "products_valid"
CATEGORIES_VALID = "categories_valid"
CONSENTS_VALID = "consents_valid"


def _spec(check: str, asset_name: str, what: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        check,
        asset=asset_name,
        blocking=True,
        description=f"{what}; fails when invalid records exceed the configured tolerance.",
    )


EXTRACTION = dict(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    freshness_policy=daily_freshness,
    pool="commercetools",
    group_name="commercetools",
    kinds={"commercetools", "pandas", "parquet"},
    io_manager_key="frames_io_manager",
)


@asset(check_specs=[_spec(CUSTOMERS_VALID, "ct_customers", "Every customer has an id, a version, a valid email and timestamps")], **EXTRACTION)
def ct_customers(context: AssetExecutionContext, commercetools: CommercetoolsResource, mapping: MappingConfigResource):
    """Customers whose ``lastModifiedAt`` falls in the partition's day(s), read from commercetools
    by keyset paging (``sort=id asc``, ``where=id > :last``, 500 per page). Deduplicated on id,
    keeping the highest version. Each row keeps its raw document; rows that fail validation keep
    their reason in ``rejection`` and stop here."""
    yield from extract(context, commercetools, mapping.load(), "customers", CUSTOMERS, CUSTOMERS_VALID,
                       expand=("customerGroup",))  # fmt: skip


@asset(check_specs=[_spec(ORDERS_VALID, "ct_orders", "Every order has an id, a version, an order state, an ISO currency and a valid email when it has one")], **EXTRACTION)
def ct_orders(context: AssetExecutionContext, commercetools: CommercetoolsResource, mapping: MappingConfigResource):
    """Orders modified in the partition's day(s). Each row's ``context`` holds what mapping needs
    from elsewhere: the registered customer's identifiers (for the configured ``customer_id``
    strategy) and the text of the order's discount codes."""
    yield from extract(
        context, commercetools, mapping.load(), "orders", ORDERS, ORDERS_VALID, contexts=order_contexts,
        preview=("id", "order_number", "order_state", "currency", "partition"),
    )  # fmt: skip


@asset(check_specs=[_spec(PRODUCTS_VALID, "ct_products", "Every product has an id, a version and at least one variant")], **EXTRACTION)
def ct_products(context: AssetExecutionContext, commercetools: CommercetoolsResource, mapping: MappingConfigResource):
    """Products modified in the partition's day(s), read from ``/products`` so unpublished products are
    seen too (the current product projections list published ones only). Mapping uses the current
    (published) data, all variants and all prices; each row's ``context`` holds its categories with
    their full paths per locale."""
    yield from extract(
        context, commercetools, mapping.load(), "products", PRODUCTS, PRODUCTS_VALID, contexts=product_contexts,
        preview=("id", "key", "published", "variants", "partition"),
    )  # fmt: skip


@asset(check_specs=[_spec(CATEGORIES_VALID, "ct_categories", "Every category has an id and a version")], **EXTRACTION)
def ct_categories(context: AssetExecutionContext, commercetools: CommercetoolsResource, mapping: MappingConfigResource):
    """Categories modified in the partition's day(s), each with its ancestor chain expanded, so the
    full path (root > … > category) is known in every locale. Products carry these paths as
    ``category`` attributes."""
    yield from extract(
        context, commercetools, mapping.load(), "categories", CATEGORIES, CATEGORIES_VALID,
        expand=("ancestors[*]",), contexts=_category_paths, preview=("id", "key", "depth", "partition"),
    )  # fmt: skip


def _category_paths(client: CommercetoolsClient, documents: list[dict]) -> dict[str, dict]:
    return {document["id"]: {"path": localized_path(document)} for document in documents}


@asset(
    check_specs=[_spec(CONSENTS_VALID, "ct_consents", "Every consent row names a customer or an email, with booleans and timestamps")],
    **EXTRACTION,
)
def ct_consents(
    context: AssetExecutionContext, ct_customers: pd.DataFrame, ct_orders: pd.DataFrame,
    commercetools: CommercetoolsResource, mapping: MappingConfigResource,
):  # fmt: skip
    """Consent as commercetools holds it, for the partition: the configured customer custom fields
    (email and SMS opt-in, with their timestamps), the custom objects of the configured container
    modified in the window, the checkout opt-in on orders (the source for guests), and the
    suppression list for the partition's customers. No rule is applied here; the contacts do."""
    config = mapping.load()
    objects = []
    with commercetools.client() as client:
        try:
            check_consent_fields(client, config.consent)
        except ConfigError as error:
            raise Failure(description=str(error)) from None
        if config.consent.custom_object_container:
            window = context.partition_time_window
            objects = fetch_consent_objects(client, config.consent.custom_object_container, window.start, window.end)
        suppressed = []
        container = config.consent.suppression.custom_object_container
        if container:
            # The list entries of this window's customers, and every entry added in the window: a new
            # suppression must reach its contact even when the customer did not change.
            window = context.partition_time_window
            entries = fetch_suppressed(client, container, customer_emails(ct_customers))
            entries += fetch_consent_objects(client, container, window.start, window.end)
            suppressed = list({entry["id"]: entry for entry in entries}.values())
    frame = consent_frame(ct_customers, objects, config.consent, suppressed, ct_orders)
    frame, result = judge(frame, config.sync.max_invalid_share, config.sync.invalid_records_tolerated)
    yield Output(
        frame,
        metadata={
            "dagster/row_count": MetadataValue.int(len(frame)),
            "email_opted_in": MetadataValue.int(int((frame["email_optin"] == True).sum())),  # noqa: E712
            "email_opted_out": MetadataValue.int(int((frame["email_optin"] == False).sum())),  # noqa: E712
            "custom_objects": MetadataValue.int(len(objects)),
            "suppressed": MetadataValue.int(len(suppressed)),
            "preview": md_table(frame, ["customer", "source", "email_optin", "sms_optin", "partition"], PREVIEW_ROWS),
        },
    )
    yield validation_check(CONSENTS_VALID, frame, result, "consents")
