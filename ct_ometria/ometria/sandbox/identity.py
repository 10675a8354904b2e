"""Modest identity rule (§5, §8 rule 19): an identifier already owned by another contact id is ignored."""

from __future__ import annotations

from typing import Any

IDENTIFIER_FIELDS = ("email", "customer_id")


def _normalise(field: str, value: Any) -> Any:
    return value.strip().lower() if field == "email" and isinstance(value, str) else value


class IdentityIndex:
    """Maps (field, value) to the contact id that owns it, account-wide (across collections)."""

    def __init__(self) -> None:
        self.owners: dict[tuple[str, Any], str] = {}
        # The identifiers each contact id owns, so a claim costs its own identifiers, not the account's.
        self.held: dict[str, set[tuple[str, Any]]] = {}
        self.conflicts: list[dict[str, Any]] = []

    def claim(self, key: tuple[str, str, str], merged: dict[str, Any], request_id: str) -> None:
        """Drop identifiers from ``merged`` that another contact id owns; record the conflict; claim the rest."""
        _, collection, contact_id = key
        claimed = set()
        for field in IDENTIFIER_FIELDS:
            value = merged.get(field)
            if value is None:
                continue
            ident = (field, _normalise(field, value))
            owner = self.owners.get(ident)
            if owner is not None and owner != contact_id:
                del merged[field]
                self.conflicts.append(
                    {
                        "contact_id": contact_id,
                        "collection": collection,
                        "field": field,
                        "value": value,
                        "owner_id": owner,
                        "request_id": request_id,
                    }
                )
            else:
                claimed.add(ident)
        # Release identifiers this contact held but no longer carries (e.g. after an email change).
        for ident in self.held.get(contact_id, set()) - claimed:
            if self.owners.get(ident) == contact_id:
                del self.owners[ident]
        for ident in claimed:
            self.owners[ident] = contact_id
        self.held[contact_id] = claimed
