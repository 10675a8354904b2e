"""``ct-ometria dead-letters list|replay``: what could not go to Ometria, and sending it again."""

from __future__ import annotations

from ct_ometria.cli.sync import ensure_dagster_home
from ct_ometria.errors import ConfigError
from ct_ometria.ledger.store import Ledger
from ct_ometria.mapping.common import shown_id
from ct_ometria.settings import database_schema, database_url

COLUMNS = ("id", "record_type", "record_id", "stage", "attempts", "last_seen", "reason")


def list_command(record_type: str | None, include_resolved: bool) -> int:
    ensure_dagster_home()
    letters = Ledger(database_url(), database_schema()).dead_letters(record_type, include_resolved=include_resolved)
    if not letters:
        print("no dead letters" + ("" if include_resolved else " open"))
        return 0
    # The payload stays in the ledger: it may hold personal data; so may an id set aside for looking like it.
    rows = [[_cell(letter, column) for column in COLUMNS] for letter in letters]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS[:-1])]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=False)) + "  reason")
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) + "  " + row[-1])
    print(f"{len(letters)} dead letter(s)")
    return 0


def _cell(letter: dict, column: str) -> str:
    if column == "last_seen":
        return letter[column].strftime("%Y-%m-%d %H:%M")
    return str(shown_id(letter[column]) if column == "record_id" else letter[column])


def replay_command(record_type: str | None, record_ids: list[str], replay_all: bool) -> int:
    if not (replay_all or record_type or record_ids):
        raise ConfigError("say which dead letters to replay: --type T, --id ID (repeatable) or --all")
    from ct_ometria.cli.sync import check_settings, quiet_dagster

    check_settings()
    ensure_dagster_home()
    quiet_dagster()
    from dagster import DagsterInstance

    from ct_ometria.definitions import defs

    config = {"record_type": record_type, "record_ids": record_ids, "all": replay_all}
    with DagsterInstance.get() as instance:
        result = defs.resolve_job_def("replay_dead_letters").execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"ops": {"replay_dead_letters_op": {"config": config}},
                        "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )  # fmt: skip
    summary: dict[str, object] = {}
    for event in result.all_events:
        metadata = getattr(event.event_specific_data, "metadata", None)
        if event.event_type_value == "STEP_OUTPUT" and metadata:
            summary = {key: value.value for key, value in metadata.items()}
        if event.event_type_value == "STEP_FAILURE" and event.event_specific_data.error:
            print(f"  failure: {event.event_specific_data.error.message.strip()}")
    status = "succeeded" if result.success else "FAILED"
    print(f"replay run {result.run_id} {status}: " + "  ".join(f"{k}={v}" for k, v in summary.items()))
    return 0 if result.success else 1
