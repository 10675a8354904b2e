"""Event fixtures: the event assets, jobs and sensors bound to the emulator, the sandbox and a
fresh ledger; ``tick`` evaluates a sensor as the daemon would and runs what it requests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dagster import DagsterInstance, Definitions, RunRequest, SkipReason, build_sensor_context

from ct_ometria.defs.events import EVENT_ASSETS, EVENT_JOBS, EVENT_SENSORS
from ct_ometria.defs.resources import LedgerResource, MappingConfigResource
from ct_ometria.ledger.events import EventStore
from ct_ometria.ledger.store import Ledger
from ct_ometria_tests.events.shop import Shop
from ct_ometria_tests.pipeline.conftest import mapping_file, resources  # noqa: F401  (fixtures)


@pytest.fixture
def shop(emulator) -> Shop:
    return Shop(emulator)


@pytest.fixture
def ledger(resources) -> Ledger:  # noqa: F811
    ledger_resource: LedgerResource = resources["ledger"]
    return ledger_resource.open()


@pytest.fixture
def event_store(ledger) -> EventStore:
    return EventStore(ledger)


@pytest.fixture
def tick(resources) -> Callable:  # noqa: F811
    """``tick(sensor_name, mapping=None)`` -> (the sensor's answer, the run's result or None)."""
    instance = DagsterInstance.ephemeral()
    cursors: dict[str, str | None] = {}

    def run(sensor_name: str, mapping: MappingConfigResource | None = None):
        bound = {**resources, **({"mapping": mapping} if mapping else {})}
        defs = Definitions(assets=EVENT_ASSETS, jobs=EVENT_JOBS, sensors=EVENT_SENSORS, resources=bound)
        sensor_def = defs.resolve_sensor_def(sensor_name)
        context = build_sensor_context(instance=instance, cursor=cursors.get(sensor_name), resources=bound,
                                       definitions=defs)  # fmt: skip
        answer = sensor_def(context)
        cursors[sensor_name] = context.cursor
        if isinstance(answer, SkipReason) or answer is None:
            return answer, None
        assert isinstance(answer, RunRequest), answer
        job = defs.resolve_job_def(sensor_def.job_name)
        result = job.execute_in_process(instance=instance, run_config=answer.run_config or {}, tags=answer.tags,
                                        raise_on_error=False)  # fmt: skip
        return answer, result

    return run
