"""The commercetools scopes this project needs: read-only, one per endpoint it reads.

The project never writes to commercetools, so its API client needs ``view_*`` scopes only. Each
endpoint the client reads (the first segment of the path after ``/{projectKey}``, ``""`` for the
project itself) and each reference it expands is mapped to the scope that grants it; a test records
every request a sync and the event runs make and checks that this map covers them, and that the
README names exactly these scopes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

# Scope -> why the project needs it.
READ_SCOPES: dict[str, str] = {
    "view_customers": "customers become contacts; orders name their customer's identifiers",
    "view_customer_groups": "a customer's group is expanded for its key (consent.suppression.customer_groups)",
    "view_orders": "orders, with their refunds and returns; carts for add_to_cart and checkout_started",
    "view_products": "products, published or not (is_active follows publication), and keys for order lines",
    "view_categories": "categories with their ancestors, for products' category paths",
    "view_discount_codes": "the text of an order's discount codes (coupon_code)",
    "view_payments": "refund transactions of an order's payments (properties.refunded_amount)",
    "view_stores": "stores: their languages, countries and distribution channels",
    "view_project_settings": "the project's languages, currencies and countries (a project without stores)",
    "view_types": "Custom Types, to check that the configured consent fields exist",
    "view_key_value_documents": "custom objects holding consent and the suppression list",
    "view_messages": "Messages, for orders, refunds, consent and deletions within a minute",
}

# Endpoint (first path segment after /{projectKey}) -> the scope that lets the project read it.
ENDPOINT_SCOPES: dict[str, str] = {
    "": "view_project_settings",
    "customers": "view_customers",
    "orders": "view_orders",
    "carts": "view_orders",  # commercetools grants carts with the orders scopes
    "products": "view_products",
    "categories": "view_categories",
    "discount-codes": "view_discount_codes",
    "payments": "view_payments",
    "stores": "view_stores",
    "types": "view_types",
    "custom-objects": "view_key_value_documents",
    "messages": "view_messages",
}

# Reference expanded (``expand=``) -> the scope that lets the project read the referenced resource.
EXPANSION_SCOPES: dict[str, str] = {
    "customerGroup": "view_customer_groups",
    "ancestors[*]": "view_categories",
}


def scopes_of_request(path: str, params: Sequence[tuple[str, str]] | Mapping[str, str] = ()) -> set[str]:
    """The scopes a GET of ``/{projectKey}{path}`` with ``params`` needs; KeyError for an endpoint or
    expansion this module does not know (so a new one cannot go unnoticed)."""
    endpoint = path.strip("/").split("/")[0].split("?")[0]
    pairs: Iterable[tuple[str, str]] = params.items() if isinstance(params, Mapping) else params
    return {ENDPOINT_SCOPES[endpoint]} | {EXPANSION_SCOPES[value] for name, value in pairs if name == "expand"}


def scope_string(project_key: str) -> str:
    """``CTP_SCOPES`` for ``project_key``: every scope this project needs, and nothing else."""
    return " ".join(f"{scope}:{project_key}" for scope in READ_SCOPES)
