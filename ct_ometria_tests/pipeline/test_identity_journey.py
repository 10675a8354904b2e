"""A guest orders, registers, opts in, then opts out: exactly these payloads reach Ometria, in order."""

from dagster import AssetKey

from ct_ometria_tests.pipeline import commerce_data as data
from ct_ometria_tests.pipeline.test_consents import CONSENT_TYPE

DAY = data.DAY
CONSENT = {"consent": {"email_optin_field": "newsletterOptIn", "email_optin_at_field": "newsletterOptInAt"}}


def pushed(result) -> dict[str, int]:
    counts = {}
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string().endswith("_sync"):
            counts[event.asset_key.to_user_string()] = event.materialization.metadata["pushed"].value
    return counts


def customer(version: int, hour: int, **custom_fields) -> dict:
    document = {**data.CUSTOMERS[0], "id": "cust-g", "email": "guest@example.com", "customerNumber": "C-9",
                "firstName": "Grace", "version": version, "lastModifiedAt": f"{DAY}T{hour:02d}:00:00.000Z"}  # fmt: skip
    if custom_fields:
        document["custom"] = {"type": {"typeId": "type", "id": "customer-consent"}, "fields": custom_fields}
    return document


def test_guest_registers_opts_in_then_out(emulator, sandbox, run_all, mapping_file):
    mapping = mapping_file({**data.MAPPING, **CONSENT})
    guest_order = data.order("order-g1", "ORD-G1", [data.line("g1", data.TEE, 0, 1, 1999, 1999)], 1999,
                             customer=None, email="  Guest@Example.COM ")  # fmt: skip
    emulator.seed(type=[CONSENT_TYPE], store=data.STORES, category=data.CATEGORIES, product=data.PRODUCTS, order=[guest_order])

    # 1. The guest orders: the order carries the email only; there is no contact.
    first = run_all(DAY, mapping=mapping)
    assert first.success
    assert pushed(first) == {"ometria_products_sync": 7, "ometria_contacts_sync": 0, "ometria_orders_sync": 1}
    [order] = sandbox.records("order")
    assert order["customer"] == {"email": "guest@example.com"}
    assert sandbox.records("contact") == []

    # 2. The guest registers with that email, and commercetools assigns them the earlier order.
    emulator.seed(customer=[customer(1, 12)],
                  order=[{**guest_order, "version": 6, "customerId": "cust-g", "lastModifiedAt": f"{DAY}T12:00:00.000Z"}])
    second = run_all(DAY, mapping=mapping)
    assert pushed(second) == {"ometria_products_sync": 0, "ometria_contacts_sync": 1, "ometria_orders_sync": 1}
    [contact] = sandbox.records("contact")
    assert (contact["id"], contact["email"], contact["customer_id"]) == ("cust-g", "guest@example.com", "cust-g")
    assert "marketing_optin" not in contact  # registering is not consenting
    [order] = sandbox.records("order")
    assert order["customer"] == {"id": "cust-g", "email": "guest@example.com"}  # both identifiers: Ometria stitches

    # 3. They opt in.
    emulator.seed(customer=[customer(2, 14, newsletterOptIn=True, newsletterOptInAt=f"{DAY}T13:59:00.000Z")])
    third = run_all(DAY, mapping=mapping)
    assert pushed(third) == {"ometria_products_sync": 0, "ometria_contacts_sync": 1, "ometria_orders_sync": 0}
    [contact] = sandbox.records("contact")
    assert (contact["marketing_optin"], contact["timestamp_subscribed"]) == ("EXPLICITLY_OPTEDIN", f"{DAY}T13:59:00+00:00")

    # 4. They opt out, and stay out.
    emulator.seed(customer=[customer(3, 16, newsletterOptIn=False, newsletterOptInAt=f"{DAY}T15:30:00.000Z")])
    fourth = run_all(DAY, mapping=mapping)
    assert pushed(fourth) == {"ometria_products_sync": 0, "ometria_contacts_sync": 1, "ometria_orders_sync": 0}
    [contact] = sandbox.records("contact")
    assert (contact["marketing_optin"], contact["timestamp_unsubscribed"]) == ("EXPLICITLY_OPTEDOUT", f"{DAY}T15:30:00+00:00")
    [evaluation] = [e for e in fourth.get_asset_check_evaluations() if e.asset_key == AssetKey("ometria_contacts_sync")]
    assert evaluation.passed


def test_fields_ometria_owns_are_sent_at_creation_only_or_never(emulator, sandbox, run_contacts, mapping_file):
    from ct_ometria.local.sample import customer_document
    from ct_ometria_tests.pipeline.conftest import at

    mapping = mapping_file({"ownership": {"firstname": "ometria_on_create", "lastname": "ometria"}})
    emulator.seed(customer=[customer_document("c-1", "ada@example.com", at(DAY, 9), first_name="Ada", last_name="King",
                                              created=at("2024-01-01"))])  # fmt: skip
    assert run_contacts(DAY, mapping=mapping).success
    [contact] = sandbox.records("contact")
    assert contact["firstname"] == "Ada" and "lastname" not in contact  # created with it; never the Ometria-owned one

    # A marketer renames her in Ometria; commercetools changes only the first name: nothing is sent.
    emulator.seed(customer=[customer_document("c-1", "ada@example.com", at(DAY, 10), version=2, first_name="Augusta",
                                              last_name="King", created=at("2024-01-01"))])  # fmt: skip
    result = run_contacts(DAY, mapping=mapping)
    assert result.success and len(sandbox.requests()) == 1

    # Her email changes: the contact is re-sent without the first name, which Ometria keeps.
    emulator.seed(customer=[customer_document("c-1", "ada.king@example.com", at(DAY, 11), version=3,
                                              first_name="Augusta", last_name="King", created=at("2024-01-01"))])  # fmt: skip
    assert run_contacts(DAY, mapping=mapping).success
    [contact] = sandbox.records("contact")
    assert (contact["id"], contact["email"], contact["firstname"]) == ("c-1", "ada.king@example.com", "Ada")
    assert len(sandbox.requests()) == 2


ORDER_TYPE = {
    "id": "order-checkout", "version": 1, "key": "order-checkout", "name": {"en-GB": "Checkout"},
    "resourceTypeIds": ["order"], "createdAt": "2024-01-01T00:00:00.000Z", "lastModifiedAt": "2024-01-01T00:00:00.000Z",
    "fieldDefinitions": [{"name": "marketingOptIn", "label": {"en-GB": "Opt-in"}, "required": False,
                          "type": {"name": "Boolean"}, "inputHint": "SingleLine"}],
}  # fmt: skip


def test_a_guests_checkout_opt_in_reaches_ometria_on_a_contact_without_personal_data_in_its_id(
    emulator, sandbox, run_contacts, mapping_file
):
    import hashlib

    mapping = mapping_file({"consent": {"order_optin_field": "marketingOptIn"}})
    opted = data.order("order-h1", "ORD-H1", [data.line("h1", data.TEE, 0, 1, 1999, 1999)], 1999, customer=None,
                       email=" Hopper@Example.com ", created=f"{DAY}T08:30:00.000Z")  # fmt: skip
    opted["custom"] = {"type": {"typeId": "type", "id": "order-checkout"}, "fields": {"marketingOptIn": True}}
    silent = data.order("order-h2", "ORD-H2", [data.line("h2", data.TEE, 0, 1, 1999, 1999)], 1999, customer=None,
                        email="quiet@example.com")  # fmt: skip
    emulator.seed(type=[ORDER_TYPE], order=[opted, silent])
    assert run_contacts(DAY, mapping=mapping).success
    [contact] = sandbox.records("contact")
    digest = hashlib.sha256(b"hopper@example.com").hexdigest()[:32]
    assert contact["id"] == f"guest-{digest}" and "hopper" not in contact["id"]
    assert contact["email"] == "hopper@example.com" and "customer_id" not in contact
    assert (contact["marketing_optin"], contact["timestamp_subscribed"]) == ("EXPLICITLY_OPTEDIN", f"{DAY}T08:30:00+00:00")


def test_an_order_consent_field_that_does_not_exist_fails_naming_the_config_key(emulator, sandbox, run_contacts, mapping_file):
    emulator.seed(type=[ORDER_TYPE])
    result = run_contacts(DAY, mapping=mapping_file({"consent": {"order_optin_field": "optIn"}}))
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "consent.order_optin_field: 'optIn' is not a field of any order Custom Type" in failure.event_specific_data.error.message
