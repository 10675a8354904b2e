"""Hostile documents through real Dagster runs: a day of customers, orders and products, valid and
broken, read from the emulator, pushed to the sandbox, with the ledger on PostgreSQL. The day's run
succeeds; every valid document arrives exactly once; every document that does not arrive is parked
with the field and the reason; nothing is lost."""

from __future__ import annotations

import copy
import datetime as dt
import os
import uuid
from collections import Counter

import pytest
import yaml
from dagster import DagsterInstance, materialize
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from ct_ometria.commercetools.frames import CUSTOMERS, ORDERS, PRODUCTS, entity_frame
from ct_ometria.commercetools.resolve import order_contexts, product_contexts
from ct_ometria.definitions import ASSETS
from ct_ometria.defs.io import PartitionedParquetIOManager
from ct_ometria.defs.resources import CommercetoolsResource, LedgerResource, MappingConfigResource, OmetriaResource
from ct_ometria.ledger.store import ASYNC_STAGE, Ledger
from ct_ometria_tests.hostile import strategies as hostile
from ct_ometria_tests.hostile.oracle import names_field, reason_fields
from ct_ometria_tests.pipeline import commerce_data as data

POSTGRES_URL = os.environ.get("CT_OMETRIA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SYNC_ASSETS = [a for a in ASSETS if a.key.to_user_string() != "ometria_reconciliation"]
# The sample tee and mug, which the generated orders buy: valid documents of the day too.
FIXED_PRODUCTS = [data.TEE, data.MUG]


def _commercetools(emulator) -> CommercetoolsResource:
    env = emulator.env()
    return CommercetoolsResource(project_key=env["CTP_PROJECT_KEY"], client_id=env["CTP_CLIENT_ID"],
                                 client_secret=env["CTP_CLIENT_SECRET"], auth_url=env["CTP_AUTH_URL"],
                                 api_url=env["CTP_API_URL"])  # fmt: skip


# What a broken document refers to, modified the day before: the window holds the broken document alone.
REFERENCED = {kind: [{**document, "lastModifiedAt": "2024-05-01T09:00:00.000Z"} for document in documents]
              for kind, documents in {"category": data.CATEGORIES, "product": FIXED_PRODUCTS, "customer": data.CUSTOMERS,
                                      "discount-code": data.DISCOUNT_CODES}.items()}  # fmt: skip
# Mostly what extraction follows (customers, products, discount codes, payments, categories), some of everything else.
REFERENCE_FIRST = ("reference", "reference", "reference", "wrong_type", "huge_string", "odd_unicode")
RESOURCES = {"customer": ("customers", CUSTOMERS, None), "order": ("orders", ORDERS, order_contexts),
             "product": ("products", PRODUCTS, product_contexts)}  # fmt: skip


@pytest.mark.emulator
def test_extraction_reads_any_broken_document_and_resolves_its_references(emulator_server):
    """What the extraction assets do with a day's documents, for one broken document at a time: read it
    from the emulator, resolve its references there, and keep it (valid or with its reason) in the frame."""
    @settings(max_examples=50, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=st.sampled_from(["customer", "order", "product"]).flatmap(
        lambda entity: hostile.VALID[entity]().flatmap(lambda document: hostile.broken(entity, document, REFERENCE_FIRST))))  # fmt: skip
    def check(case: hostile.Case) -> None:
        reason = _extract(emulator_server, case)
        assert reason is None or names_field(reason, case.breakage), (case, reason[:300])

    check()


def _extract(emulator, case: hostile.Case) -> str | None:
    """Seed ``case`` (and what it refers to, the day before), extract its day as the asset does, and
    return its reason (None: valid)."""
    resource, entity, contexts = RESOURCES[case.entity]
    start = dt.datetime.fromisoformat(f"{data.DAY}T00:00:00+00:00")
    emulator.clear()
    emulator.seed(**REFERENCED)
    emulator.seed(**{case.entity: [case.document]})
    with _commercetools(emulator).client() as client:
        documents = [d for page in client.modified_between(resource, start, start + dt.timedelta(days=1)) for d in page]
        resolved = contexts(client, documents) if contexts else {}
    assert [d["id"] for d in documents] == [case.id]
    frame = entity_frame(documents, entity, resolved)
    assert list(frame["id"]) == [case.id]
    return frame.loc[0, "rejection"]


LONG = "x" * 100_000


def _sample(entity: str) -> dict:
    """A valid order (with a discount code and a payment) or product (in a category) of the day."""
    if entity == "order":
        return {**copy.deepcopy(data.ORDERS[0]), "paymentInfo": {"payments": [{"typeId": "payment", "id": "pay-1"}]}}
    product = copy.deepcopy(data.TEE)
    product["masterData"]["staged"] = copy.deepcopy(product["masterData"]["current"])
    return {**product, "id": "prod-tee-2", "key": "tee-2"}


@pytest.mark.emulator
@pytest.mark.parametrize(
    ("entity", "path", "value"),
    [
        ("order", ("discountCodes",), "SUMMER10"),
        ("order", ("discountCodes", 0), "dc-summer"),
        ("order", ("discountCodes", 0, "discountCode", "id"), LONG),
        ("order", ("paymentInfo",), [1]),
        ("order", ("customerId",), {"id": "cust-1"}),
        ("order", ("lineItems", 0), 1),
        ("order", ("lineItems", 0, "productId"), ["prod-tee"]),
        ("product", ("masterData",), "published"),
        ("product", ("masterData", "current", "categories", 0, "id"), LONG),
    ],
)  # fmt: skip
def test_a_broken_reference_is_not_followed_and_its_document_is_parked_naming_it(emulator_server, entity, path, value):
    document = _sample(entity)
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    reason = _extract(emulator_server, hostile.Case(entity, document, hostile.Breakage("reference", path)))
    assert reason is not None and names_field(reason, hostile.Breakage("reference", path)), reason


def _run(emulator, sandbox, frames: str, schema: str, mapping: MappingConfigResource):
    resources = {
        "commercetools": _commercetools(emulator),
        "ometria": OmetriaResource(api_key=sandbox.api_key, api_url=sandbox.base_url),
        "mapping": mapping,
        "frames_io_manager": PartitionedParquetIOManager(base_dir=frames),
        "ledger": LedgerResource(url=POSTGRES_URL, db_schema=schema),
    }
    return materialize(SYNC_ASSETS, partition_key=data.DAY, resources=resources, instance=DagsterInstance.ephemeral(),
                       raise_on_error=False)  # fmt: skip


def _arrived(ledger: Ledger, sandbox) -> dict[str, set[str]]:
    """Per source document id, the records of it the sandbox holds (by the ledger's source ids)."""
    held = {(kind, r["id"]) for kind in ("contact", "order", "product") for r in sandbox.records(kind)}
    by_source: dict[str, set[str]] = {}
    for row in ledger.pushed():
        if (row["record_type"], row["record_id"]) in held:
            by_source.setdefault(row["source_id"], set()).add(row["record_id"])
    return by_source


@pytest.mark.emulator
@pytest.mark.postgres
def test_a_day_of_hostile_documents_runs_through_and_loses_nothing(emulator_server, sandbox_server, tmp_path):
    (tmp_path / "mapping.yaml").write_text(yaml.safe_dump(data.MAPPING))
    mapping = MappingConfigResource(path=str(tmp_path / "mapping.yaml"))

    @settings(max_examples=5, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(batch=hostile.batch(min_size=20, max_size=36))
    def check(batch: list[hostile.Case]) -> None:
        emulator_server.clear()
        sandbox_server.reset()
        schema = f"ct_ometria_hostile_{uuid.uuid4().hex[:12]}"
        frames = str(tmp_path / schema)
        by_entity = {entity: [c.document for c in batch if c.entity == entity] for entity in ("customer", "order", "product")}
        emulator_server.seed(store=data.STORES, category=data.CATEGORIES, customer=by_entity["customer"],
                             order=by_entity["order"], product=FIXED_PRODUCTS + by_entity["product"])  # fmt: skip
        try:
            result = _run(emulator_server, sandbox_server, frames, schema, mapping)
            failures = [e.event_specific_data.error.message for e in result.all_events if e.is_step_failure]
            assert result.success, failures

            ledger = Ledger(POSTGRES_URL, schema)
            arrived = _arrived(ledger, sandbox_server)
            letters: dict[str, list[dict]] = {}
            for letter in ledger.dead_letters():
                letters.setdefault(letter["source_id"] or letter["record_id"], []).append(letter)

            # Each record was sent once: what the sandbox accepted is what it holds plus what its validation refused.
            held = {kind: Counter(r["id"] for r in sandbox_server.records(kind)) for kind in ("contact", "order", "product")}
            assert not [(kind, i) for kind, ids in held.items() for i, n in ids.items() if n > 1]
            sent = sum(entry["record_count"] for entry in sandbox_server.requests() if entry["status"] == 202)
            refused = {(l["record_type"], l["record_id"]) for l in ledger.dead_letters() if l["stage"] == ASYNC_STAGE}
            assert sent == sum(len(ids) for ids in held.values()) + len(refused)

            cases = batch + [hostile.Case("product", p) for p in FIXED_PRODUCTS]
            for case in cases:
                here, parked = case.id in arrived, case.id in letters
                assert here != parked, f"{case}: {'arrived and parked' if here else 'neither arrived nor parked'}"
                if case.breakage is None:
                    assert here, f"{case} is valid but parked: {letters.get(case.id)}"
                    expected = _expected_ids(case)
                    assert expected <= arrived[case.id], f"{case}: {expected - arrived[case.id]} missing"
                    continue
                if case.breakage.must_park:
                    assert parked, f"{case} arrived: {arrived.get(case.id)}"
                for letter in letters.get(case.id, []):
                    assert reason_fields(letter["reason"]), letter
                    duplicated = letter["reason"].startswith("id: is duplicated")
                    assert duplicated or names_field(letter["reason"], case.breakage), (case, letter["reason"][:300])
            # Nothing is lost: every document arrived or was parked, none twice.
            assert len({c.id for c in cases if c.id in arrived}) + len({c.id for c in cases if c.id in letters}) == len(cases)
        finally:
            with create_engine(POSTGRES_URL).begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))

    check()


def _expected_ids(case: hostile.Case) -> set[str]:
    """The Ometria ids a valid document becomes under the commerce mapping (orders by number, products by key)."""
    document = case.document
    if case.entity == "customer":
        return {document["id"]}
    if case.entity == "order":
        return {document["orderNumber"]}
    current = document["masterData"]["current"]
    return {document["key"], *(v["sku"] for v in [current["masterVariant"], *current["variants"]])}
