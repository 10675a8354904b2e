"""Resolving references at extraction time, so mapping stays pure: customers of orders (for the
identifier strategy), discount codes (their text), categories of products (their full path)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ct_ometria.commercetools.client import CommercetoolsClient
from ct_ometria.commercetools.models import Project, Store

# Ids per request: 100 UUIDs keep the URL far under any proxy's limit.
IDS_PER_REQUEST = 100
# commercetools ids and keys are at most 256 characters. Anything else in a broken document (a number,
# a list, 100 KB of text) is no reference to follow: its document is refused by its model, with the field.
MAX_REFERENCE_CHARS = 256


def is_reference_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_REFERENCE_CHARS


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _ref_id(value: Any) -> str | None:
    """The id of a reference (``{"typeId": ..., "id": ...}``), when it is one."""
    found = _dict(value).get("id")
    return found if is_reference_id(found) else None


def fetch_by_ids(
    client: CommercetoolsClient, resource: str, ids: Iterable[Any], *, expand: tuple[str, ...] = ()
) -> dict[str, dict[str, Any]]:
    wanted = sorted({i for i in ids if is_reference_id(i)})
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), IDS_PER_REQUEST):
        chunk = wanted[start : start + IDS_PER_REQUEST]
        params: list[tuple[str, str]] = [("where", "id in :ids"), ("limit", "500"), ("withTotal", "false")]
        params += [("var.ids", item) for item in chunk]
        params += [("expand", item) for item in expand]
        for document in client.get(f"/{resource}", params).get("results", []):
            found[document["id"]] = document
    return found


def localized_path(category: dict[str, Any]) -> dict[str, list[str]]:
    """Names from the root to ``category`` per locale, from a category read with ``expand=ancestors[*]``."""
    chain = [ancestor.get("obj") or {} for ancestor in category.get("ancestors", [])] + [category]
    locales = sorted({locale for node in chain for locale in (node.get("name") or {})})
    return {locale: [_name(node, locale) for node in chain] for locale in locales}


def _name(node: dict[str, Any], locale: str) -> str:
    """The name in ``locale``, else in any locale, else the key or id: a path never has holes."""
    names = node.get("name") or {}
    return names.get(locale) or next(iter(names.values()), None) or node.get("key") or node.get("id", "")


def category_context(categories: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        category_id: {"key": document.get("key"), "path": localized_path(document)}
        for category_id, document in categories.items()
    }


def product_contexts(client: CommercetoolsClient, products: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per product id: its categories with their paths."""
    def category_ids(product: dict[str, Any]) -> list[str]:
        current = _dict(_dict(product.get("masterData")).get("current"))
        return [found for ref in _dicts(current.get("categories")) if (found := _ref_id(ref))]

    categories = category_context(
        fetch_by_ids(client, "categories", (i for p in products for i in category_ids(p)), expand=("ancestors[*]",))
    )
    return {
        str(product.get("id")): {"categories": {i: categories[i] for i in category_ids(product) if i in categories}}
        for product in products
    }


def order_contexts(client: CommercetoolsClient, orders: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per order id: the registered customer's identifiers and the discount codes' text."""
    customers = fetch_by_ids(client, "customers", (o.get("customerId") for o in orders))
    code_ids = [_ref_id(info.get("discountCode")) for order in orders for info in _dicts(order.get("discountCodes"))]
    codes = {i: d.get("code") for i, d in fetch_by_ids(client, "discount-codes", code_ids).items()}
    # Lines of older orders may lack productKey; the product id strategy `key` needs it.
    keyless = [line.get("productId") for o in orders for line in _dicts(o.get("lineItems")) if not line.get("productKey")]
    keys = {i: d["key"] for i, d in fetch_by_ids(client, "products", keyless).items() if d.get("key")}
    payments = fetch_by_ids(client, "payments", (_ref_id(ref) for o in orders for ref in _payment_refs(o)))
    contexts = {}
    for order in orders:
        customer_id = order.get("customerId")
        customer = customers.get(customer_id) if is_reference_id(customer_id) else None
        lines = _dicts(order.get("lineItems"))
        contexts[str(order.get("id"))] = {
            "customer": {
                key: customer.get(key) for key in ("id", "customerNumber", "externalId", "key")
            } if customer else None,
            "product_keys": {
                line["productId"]: keys[line["productId"]] for line in lines
                if is_reference_id(line.get("productId")) and line["productId"] in keys
            },
            "refunds": [
                transaction["amount"] for ref in _payment_refs(order) for transaction in
                _dicts(payments.get(_ref_id(ref) or "", {}).get("transactions"))
                if transaction.get("type") == "Refund" and transaction.get("state") == "Success"
            ],
            "discount_codes": [
                codes[ref] for info in _dicts(order.get("discountCodes"))
                if (ref := _ref_id(info.get("discountCode"))) in codes
            ],
        }  # fmt: skip
    return contexts


def _payment_refs(order: dict[str, Any]) -> list[dict[str, Any]]:
    return _dicts(_dict(order.get("paymentInfo")).get("payments"))


def fetch_stores(client: CommercetoolsClient) -> tuple[list[Store], Project]:
    """Every store of the project and the project itself (currencies, languages, countries)."""
    stores = [Store.model_validate(document) for page in client.pages("stores") for document in page]
    return stores, Project.model_validate(client.get(""))
