"""The extraction and mapping frames of a list of documents, as the assets build them, without servers."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ct_ometria.commercetools.frames import CUSTOMERS, ORDERS, PRODUCTS, entity_frame
from ct_ometria.commercetools.models import Project, Store
from ct_ometria.config import parse_mapping_config
from ct_ometria.mapping.frames import contacts_frame, orders_frame, products_frame
from ct_ometria.mapping.stores import resolve_stores
from ct_ometria.validation import REJECTION
from ct_ometria_tests.pipeline import commerce_data as data

CONFIG = parse_mapping_config(data.MAPPING)
PROJECT = Project(key="hostile", currencies=["EUR", "GBP"], languages=["nl-NL", "en-GB"], countries=["NL", "GB"])
STORES = resolve_stores([Store.model_validate(store) for store in data.STORES], PROJECT, CONFIG)
AS_OF = dt.datetime(2024, 5, 2, 12, tzinfo=dt.timezone.utc)
ENTITIES = {"customer": CUSTOMERS, "order": ORDERS, "product": PRODUCTS}


def extract_and_map(entity: str, documents: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The extracted frame and the mapped frame, as the extraction and mapping assets build them."""
    extracted = entity_frame(documents, ENTITIES[entity])
    if entity == "customer":
        return extracted, contacts_frame(extracted, CONFIG)
    if entity == "order":
        return extracted, orders_frame(extracted, STORES, CONFIG)
    return extracted, products_frame(extracted, STORES, CONFIG, AS_OF)


def outcome(extracted: pd.DataFrame, mapped: pd.DataFrame, source_id: str) -> tuple[list[str], list[str], list[int]]:
    """(reasons, valid records, their sizes) of one source document across both frames."""
    rows = extracted[extracted["id"] == source_id]
    assert len(rows) == 1, f"{source_id} is not exactly once in the extracted frame"
    mine = mapped[mapped["source_id"] == source_id]
    reasons = [r for r in [*rows[REJECTION], *mine[REJECTION]] if isinstance(r, str)]
    valid = mine[mine[REJECTION].isna()]
    return reasons, list(valid["record"]), list(valid["record_bytes"])


