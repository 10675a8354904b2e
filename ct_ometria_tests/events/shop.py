"""A small shop driven through the emulator's real API, so every change records its commercetools Messages."""

from __future__ import annotations

from typing import Any

from ct_ometria.local.emulator import Emulator

CONSENT_TYPE = {
    "key": "customer-consent", "name": {"en-GB": "Consent"}, "resourceTypeIds": ["customer"],
    "fieldDefinitions": [
        {"name": "newsletterOptIn", "label": {"en-GB": "newsletterOptIn"}, "required": False,
         "type": {"name": "Boolean"}, "inputHint": "SingleLine"},
    ],
}  # fmt: skip
CONSENT_MAPPING = {"consent": {"email_optin_field": "newsletterOptIn"}}


class Shop:
    def __init__(self, emulator: Emulator):
        self.ct = emulator
        self.product_type = emulator.create("product-types", {"name": "basic", "key": "basic", "description": "basic",
                                                              "attributes": []})  # fmt: skip

    def consent_type(self) -> dict[str, Any]:
        return self.ct.create("types", CONSENT_TYPE)

    def product(self, key: str, cents: int = 2500, currency: str = "GBP") -> dict[str, Any]:
        return self.ct.create("products", {
            "productType": {"typeId": "product-type", "id": self.product_type["id"]}, "key": key,
            "name": {"en-GB": key.title()}, "slug": {"en-GB": key},
            "masterVariant": {"sku": f"{key.upper()}-1", "prices": [{"value": {"currencyCode": currency, "centAmount": cents}}]},
            "publish": True,
        })  # fmt: skip

    def customer(self, email: str, optin: bool | None = None) -> dict[str, Any]:
        draft: dict[str, Any] = {"email": email, "firstName": "Ann", "lastName": "Lee", "password": "secret-123"}
        if optin is not None:
            draft["custom"] = {"type": {"typeId": "type", "key": "customer-consent"}, "fields": {"newsletterOptIn": optin}}
        return self.ct.create("customers", draft)

    def cart(self, currency: str = "GBP", **fields: Any) -> dict[str, Any]:
        return self.ct.create("carts", {"currency": currency, "country": "GB", **fields})

    def add(self, cart: dict[str, Any], product: dict[str, Any], quantity: int = 1) -> dict[str, Any]:
        return self.ct.update("carts", cart["id"], {"action": "addLineItem", "productId": product["id"], "variantId": 1,
                                                    "quantity": quantity})  # fmt: skip

    def order(self, product: dict[str, Any], email: str, customer: dict[str, Any] | None = None, quantity: int = 2,
              number: str | None = None) -> dict[str, Any]:  # fmt: skip
        cart = self.cart(customerEmail=email, **({"customerId": customer["id"]} if customer else {}))
        cart = self.add(cart, product, quantity)
        draft = {"cart": {"typeId": "cart", "id": cart["id"]}, "version": cart["version"]}
        if number:
            draft["orderNumber"] = number
        return self.ct.api("POST", "/orders", draft)

    def imported_order(self, product: dict[str, Any], email: str, cents: int = 1500) -> dict[str, Any]:
        money = {"currencyCode": "GBP", "centAmount": cents}
        return self.ct.api("POST", "/orders/import", {
            "orderNumber": "imported-1", "customerEmail": email, "totalPrice": money, "orderState": "Complete",
            "lineItems": [{"productId": product["id"], "name": {"en-GB": "x"}, "variant": {"id": 1, "sku": product["masterData"]["current"]["masterVariant"]["sku"]},
                           "price": {"value": money}, "quantity": 1}],
        })  # fmt: skip

    def payment_refund(self, order: dict[str, Any], cents: int) -> dict[str, Any]:
        payment = self.ct.create("payments", {"amountPlanned": {"currencyCode": "GBP", "centAmount": cents}})
        self.ct.update("orders", order["id"], {"action": "addPayment", "payment": {"typeId": "payment", "id": payment["id"]}})
        return self.ct.update("payments", payment["id"], {"action": "addTransaction", "transaction": {
            "type": "Refund", "amount": {"currencyCode": "GBP", "centAmount": cents}, "state": "Success"}})  # fmt: skip

    def refund_return(self, order: dict[str, Any], quantity: int = 1) -> dict[str, Any]:
        line = order["lineItems"][0]["id"]
        updated = self.ct.update("orders", order["id"], {"action": "addReturnInfo", "items": [
            {"quantity": quantity, "lineItemId": line, "shipmentState": "Returned"}]})  # fmt: skip
        item = updated["returnInfo"][-1]["items"][0]["id"]
        return self.ct.update("orders", order["id"], {"action": "setReturnPaymentState", "returnItemId": item,
                                                      "paymentState": "Refunded"})  # fmt: skip
