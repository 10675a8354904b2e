"""Reconciliation finds what Ometria or the ledger lacks, re-drives it, and says so in its check."""

import pytest
from dagster import AssetKey, materialize

from ct_ometria.definitions import ASSETS
from ct_ometria_tests.pipeline import commerce_data as data


@pytest.fixture
def reconcile(resources, mapping_file):
    mapping = mapping_file(data.MAPPING)

    def run(sample_size: int = 50):
        result = materialize(
            ASSETS, selection=["ometria_reconciliation"], partition_key=data.DAY,
            resources={**resources, "mapping": mapping},
            run_config={"ops": {"ometria_reconciliation": {"config": {"sample_size": sample_size}}}},
        )  # fmt: skip
        [evaluation] = result.get_asset_check_evaluations()
        [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("ometria_reconciliation")]
        return evaluation, {k: v.value for k, v in event.materialization.metadata.items()}

    return run


@pytest.fixture
def synced(emulator, sandbox, run_all, mapping_file):
    data.seed(emulator)
    assert run_all(data.DAY, mapping=mapping_file(data.MAPPING)).success


def test_a_complete_sync_reconciles_without_gaps(synced, reconcile):
    evaluation, metadata = reconcile()
    assert evaluation.passed and metadata["gaps"] == 0 and metadata["redriven"] == 0
    assert "| order | 7 | 0 | 0 | 7 | 0 | 0 |" in metadata["summary"]


def test_what_ometria_lost_is_found_re_driven_and_then_reconciled(synced, sandbox, reconcile):
    sandbox.reset()  # Ometria forgets everything it held
    evaluation, metadata = reconcile()
    assert not evaluation.passed
    assert metadata["gaps"] == 15 and metadata["redriven"] == 15  # 7 products, 1 contact, 7 orders
    assert "order ORD-A" in evaluation.description
    assert len(sandbox.records("order")) == 7 and len(sandbox.records("product")) == 7
    evaluation, metadata = reconcile()
    assert evaluation.passed and metadata["gaps"] == 0


def test_what_the_ledger_never_recorded_is_re_driven(synced, sandbox, reconcile, resources):
    ledger = resources["ledger"].open()
    ledger.forget("order", ["ORD-B", "ORD-C"])
    before = len(sandbox.requests())
    evaluation, metadata = reconcile(sample_size=0)
    assert not evaluation.passed and metadata["gaps"] == 2 and metadata["redriven"] == 2
    assert [(r["type"], r["record_count"]) for r in sandbox.requests()[before:]] == [("order", 2)]
    assert {"ORD-B", "ORD-C"} <= {row["record_id"] for row in ledger.pushed("order")}
