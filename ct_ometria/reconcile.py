"""Reconciliation: what commercetools held for a window, against what the ledger says Ometria
accepted, against a sample read back from Ometria. Gaps are re-driven through the ledger."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ct_ometria.delivery import Delivery, deliver
from ct_ometria.ledger.store import Candidate, Ledger
from ct_ometria.ometria.client import OmetriaClient


@dataclass
class Reconciliation:
    record_type: str
    expected: int = 0
    missing_from_ledger: list[str] = field(default_factory=list)
    outdated_in_ledger: list[str] = field(default_factory=list)
    sampled: int = 0
    missing_in_ometria: list[str] = field(default_factory=list)
    redriven: int = 0

    @property
    def gaps(self) -> int:
        return len(self.missing_from_ledger) + len(self.outdated_in_ledger) + len(self.missing_in_ometria)


def reconcile(
    items: list[Candidate], ledger: Ledger, client: OmetriaClient, *, sample_size: int, seed: str,
    collection: str = "default", redrive: bool = True, run_id: str | None = None,
) -> Reconciliation:  # fmt: skip
    """Compare, read back a deterministic sample, and send again what is missing."""
    record_type = items[0].record_type if items else "unknown"
    result = Reconciliation(record_type=record_type, expected=len(items))
    if not items:
        return result
    known = ledger.known(record_type, [item.record_id for item in items])
    to_redrive: list[Candidate] = []
    for item in items:
        entry = known.get(item.record_id)
        if entry is None:
            result.missing_from_ledger.append(item.record_id)
            to_redrive.append(item)
        elif entry[0] != item.content_hash and (entry[1] is None or item.source_version is None or entry[1] < item.source_version):
            # The ledger holds an older version than commercetools: the newer one never went.
            result.outdated_in_ledger.append(item.record_id)
            to_redrive.append(item)
    in_ledger = sorted(item.record_id for item in items if item.record_id in known)
    sample = random.Random(seed).sample(in_ledger, min(sample_size, len(in_ledger)))
    result.sampled = len(sample)
    by_id = {item.record_id: item for item in items}
    for record_id in sample:
        if client.read(record_type, record_id, collection) is None:
            result.missing_in_ometria.append(record_id)
            to_redrive.append(by_id[record_id])
    if redrive and to_redrive:
        # What Ometria lacks despite the ledger must be sent again: drop it from the ledger first.
        ledger.forget(record_type, result.missing_in_ometria)
        delivery: Delivery = deliver(client, ledger, to_redrive, run_id=run_id, stage="reconciliation")
        result.redriven = delivery.report.sent
    return result
