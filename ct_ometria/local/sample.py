"""A deterministic sample store in commercetools' own document shapes, for the demo and the tests.

Documents are seeded verbatim into the emulator, so ``createdAt``/``lastModifiedAt`` can lie in
the past and land in the partitions a backfill reads.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
import uuid
from typing import Any

from ct_ometria.commercetools.client import ct_datetime

FIRST_NAMES = ["Ada", "Bram", "Chloé", "Dário", "Eefje", "Femi", "Grete", "Hiro", "Inès", "Jonas", "Kai", "Lena"]
LAST_NAMES = ["de Vries", "Jansen", "Müller", "O'Brien", "Smith", "Okafor", "Nakamura", "García", "Rossi", "Novak"]
COUNTRIES = ["NL", "DE", "GB", "BE", "FR"]


def customer_document(
    customer_id: str,
    email: str,
    modified: dt.datetime,
    *,
    version: int = 1,
    created: dt.datetime | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    customer_number: str | None = None,
    country: str | None = None,
    stores: list[str] | None = None,
    locale: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A customer as ``GET /customers`` returns it."""
    address_id = f"addr-{customer_id[:8]}"
    document: dict[str, Any] = {
        "id": customer_id,
        "version": version,
        "versionModifiedAt": ct_datetime(modified),
        "createdAt": ct_datetime(created or modified - dt.timedelta(days=30)),
        "lastModifiedAt": ct_datetime(modified),
        "email": email,
        "addresses": [{"id": address_id, "country": country}] if country else [],
        "shippingAddressIds": [],
        "billingAddressIds": [],
        "isEmailVerified": False,
        "stores": [{"typeId": "store", "key": key} for key in stores or []],
        "authenticationMode": "Password",
    }
    if country:
        document["defaultBillingAddressId"] = address_id
    for key, value in (
        ("firstName", first_name),
        ("lastName", last_name),
        ("customerNumber", customer_number),
        ("locale", locale),
    ):
        if value is not None:
            document[key] = value
    document.update(extra)
    return document


def sample_customers(
    count: int, first_day: dt.date, days: int, seed: int = 7, broken_emails: int = 0
) -> list[dict[str, Any]]:
    """``count`` customers spread over ``days`` days from ``first_day``, the same for the same seed;
    the last ``broken_emails`` of them have an email address no one could send to."""
    rng = random.Random(seed)
    documents = []
    for index in range(count):
        day = first_day + dt.timedelta(days=index % days)
        modified = dt.datetime.combine(day, dt.time(), dt.timezone.utc) + dt.timedelta(seconds=rng.randrange(86_400))
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = unicodedata.normalize("NFKD", f"{first}.{last}".lower()).encode("ascii", "ignore").decode()
        local = local.replace(" ", "").replace("'", "")
        documents.append(
            customer_document(
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                # Mixed case and stray spaces, as shoppers type them.
                f" {local.title()}{index}@Example.com " if index % 5 == 0 else f"{local}{index}@example.com",
                modified,
                version=rng.randint(1, 9),
                first_name=first,
                last_name=last,
                customer_number=f"C-{index:06d}",
                country=rng.choice(COUNTRIES),
                locale=rng.choice(["en-GB", "nl-NL", "de-DE"]),
            )
        )
    for document in documents[len(documents) - broken_emails :] if broken_emails else []:
        document["email"] = document["email"].strip().replace("@", ".at.")
    return documents
