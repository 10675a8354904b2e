"""``ct-ometria sync``: one Dagster run over a range of daily partitions, recorded in the instance
under ``DAGSTER_HOME`` so it shows in the UI's run history."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ct_ometria.config import load_mapping_config
from ct_ometria.errors import ConfigError, CtOmetriaError, UpstreamError, UpstreamUnavailable
from ct_ometria.settings import commercetools_from_env, database_url, http_timeout, mapping_config_path, ometria_from_env

EXTRACTED = ("read", "valid", "invalid", "commercetools_requests", "commercetools_retries")
MAPPED = ("mapped", "invalid")
PUSHED = ("pushed", "accepted", "rejected", "requests", "retries", "throttled_429")
SYNC_ASSETS = ("ometria_contacts_sync", "ometria_products_sync", "ometria_orders_sync")
SUMMARY_KEYS = {
    "ct_customers": EXTRACTED,
    "ct_consents": ("email_opted_in", "email_opted_out", "custom_objects"),
    "ct_categories": EXTRACTED,
    "ct_products": EXTRACTED,
    "ct_orders": EXTRACTED,
    "ometria_contacts": MAPPED,
    "ometria_products": MAPPED,
    "ometria_orders": MAPPED,
    "ometria_contacts_sync": ("new", "changed", "unchanged", "stale_skipped", *PUSHED, "invalid"),
    "ometria_products_sync": ("new", "changed", "unchanged", "stale_skipped", *PUSHED, "invalid"),
    "ometria_orders_sync": ("new", "changed", "unchanged", "stale_skipped", *PUSHED, "invalid",
                            "products_pulled_forward"),
}


@dataclass
class SyncOutcome:
    run_id: str
    success: bool
    seconds: float
    materializations: dict[str, dict[str, object]] = field(default_factory=dict)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def ensure_dagster_home() -> str:
    """DAGSTER_HOME, defaulting to ``./.dagster_home`` (SQLite storage) so a first run needs no setup."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(Path.cwd() / ".dagster_home")
        Path(home).mkdir(parents=True, exist_ok=True)
        instance_file = Path(home, "dagster.yaml")
        if not instance_file.exists():
            # The project's instance settings: pools keep every run under one Ometria account's rate.
            instance_file.write_text(Path(__file__).with_name("instance.yaml").read_text())
        os.environ["DAGSTER_HOME"] = home
    if not Path(home).is_dir():
        raise ConfigError(f"DAGSTER_HOME={home} is not a folder")
    return home


def check_settings() -> None:
    """Fail before Dagster starts, naming the variable or config key that is missing or wrong."""
    from ct_ometria.commercetools.client import CommercetoolsClient
    from ct_ometria.commercetools.consent import check_consent_fields

    settings = commercetools_from_env()
    ometria_from_env()
    http_timeout()
    config = load_mapping_config(mapping_config_path())
    if config.consent.custom_fields() or config.consent.order_fields():
        with CommercetoolsClient(settings) as client:
            check_consent_fields(client, config.consent)


def quiet_dagster() -> None:
    import warnings

    from dagster import BetaWarning, PreviewWarning

    # BackfillPolicy is marked beta; the warning says nothing the user can act on.
    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def heal_abandoned_runs(instance) -> list[str]:  # noqa: ANN001
    """Mark failed the CLI runs of this host whose process died (SIGKILL, power loss) and give back
    the pool slots they held, so the next run does not wait for them forever. Runs launched by the
    Dagster daemon are watched by its run monitoring instead."""
    from dagster import DagsterRunStatus, RunsFilter

    healed = []
    runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED], tags={"ct_ometria/launched_by": "cli"}))
    for run in runs:
        if run.tags.get("ct_ometria/host") != socket.gethostname():
            continue
        pid = run.tags.get("ct_ometria/pid")
        if pid and pid.isdigit() and not _alive(int(pid)):
            instance.report_run_failed(run, f"its process {pid} is gone; marked failed by the next ct-ometria run")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            healed.append(run.run_id)
    return healed


def open_instance():  # noqa: ANN201
    """The Dagster instance of ``DAGSTER_HOME``; storage that cannot be reached is a clear error, not a
    traceback (whose text could carry the storage URL)."""
    from dagster import DagsterInstance

    try:
        return DagsterInstance.get()
    except Exception as error:  # dagster-postgres wraps the driver's errors in its own exception types
        if type(error).__name__ not in ("DagsterPostgresException", "OperationalError"):
            raise
        if "database is locked" in str(error):  # SQLite's own words; they carry no URL
            raise CtOmetriaError(f"the Dagster instance's SQLite storage (DAGSTER_HOME={os.environ.get('DAGSTER_HOME')}) is "
                                 "locked by another process: SQLite takes one writer at a time; run syncs side by side "
                                 "on the PostgreSQL instance (deploy/dagster.postgres.yaml)") from None  # fmt: skip
        raise CtOmetriaError(f"the Dagster instance's storage (DAGSTER_HOME={os.environ.get('DAGSTER_HOME')}) could not be "
                             f"reached: {type(error).__name__}; check its database and dagster.yaml") from None


def check_workers_storage(workers: int) -> None:
    """Several runs at once need PostgreSQL for both the Dagster instance and the ledger: SQLite takes
    one writer at a time, and runs started together on it fail at random ("database is locked")."""
    if workers <= 1:
        return
    if database_url().startswith("sqlite"):
        raise ConfigError(f"--workers {workers} needs the ledger on PostgreSQL: CT_OMETRIA_DATABASE_URL is SQLite "
                          "(unset, or an sqlite:// URL), which takes one writer at a time")  # fmt: skip
    ensure_dagster_home()
    instance = open_instance()
    try:
        storages = (instance.run_storage, instance.event_log_storage)
        if any("sqlite" in type(storage).__name__.lower() for storage in storages):
            raise ConfigError(f"--workers {workers} needs the Dagster instance on PostgreSQL: DAGSTER_HOME="
                              f"{os.environ.get('DAGSTER_HOME')} keeps its runs in SQLite, which takes one writer at a "
                              "time (use deploy/dagster.postgres.yaml as its dagster.yaml)")  # fmt: skip
    finally:
        instance.dispose()


def check_range(start: dt.date, end: dt.date) -> None:
    quiet_dagster()
    from ct_ometria.defs.partitions import daily_partitions

    if end < start:
        raise ConfigError(f"--end {end} is before --start {start}")
    keys = daily_partitions.get_partition_keys()
    if start.isoformat() not in keys or end.isoformat() not in keys:
        raise ConfigError(
            f"days must lie within the partitions {keys[0]} .. {keys[-1]} (sync.start_date in the mapping config "
            f"sets the first; the last is yesterday, UTC), got {start} .. {end}"
        )


# A range's runs claim pool slots in the order they were given: the first at the default priority,
# each later one a step below (Dagster's run tag; its pools assign a freed slot by priority, then by
# when a step first asked). Without it, a run blocked at its start asked for all four of its
# extraction steps at once and so came before every step the running run asked for later: the first
# run of a 300,000-order backfill, the small one meant to push first, waited 9.5 s for the
# commercetools slot after its categories and 9.6 s more before its consents.
PRIORITY_TAG = "dagster/priority"


def run_sync(start: dt.date, end: dt.date, dry_run: bool = False, priority: int | None = None) -> SyncOutcome:
    quiet_dagster()
    from dagster import DagsterEventType

    from ct_ometria.definitions import defs
    from ct_ometria.defs.jobs import SYNC_JOB

    check_range(start, end)
    job = defs.resolve_job_def(SYNC_JOB)
    tags = {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
        "ct_ometria/launched_by": "cli",
        "ct_ometria/host": socket.gethostname(),
        "ct_ometria/pid": str(os.getpid()),
        **({"ct_ometria/dry_run": "true"} if dry_run else {}),
        **({PRIORITY_TAG: str(priority)} if priority is not None else {}),
    }
    started = time.monotonic()
    with open_instance() as instance:
        for run_id in heal_abandoned_runs(instance):
            print(f"run {run_id} had died without finishing: marked failed, its pool slots freed", file=sys.stderr)
        result = job.execute_in_process(
            instance=instance,
            tags=tags,
            raise_on_error=False,
            run_config={
                "loggers": {"console": {"config": {"log_level": "INFO"}}},
                "ops": {name: {"config": {"dry_run": dry_run}} for name in SYNC_ASSETS},
            },
        )
    outcome = SyncOutcome(run_id=result.run_id, success=result.success, seconds=time.monotonic() - started)
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            name = materialization.asset_key.to_user_string()
            outcome.materializations.setdefault(
                name, {key: value.value for key, value in materialization.metadata.items()}
            )
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            outcome.checks.append((name, evaluation.passed, evaluation.description or ""))
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            outcome.failures.append(f"{event.step_key}: {error.message.strip() if error else 'failed'}")
    return outcome


def print_summary(outcome: SyncOutcome, start: dt.date, end: dt.date, home: str) -> None:
    status = "succeeded" if outcome.success else "FAILED"
    print(f"run {outcome.run_id} {status} in {outcome.seconds:.1f}s: {start} .. {end} (DAGSTER_HOME={home})")
    for asset, keys in SUMMARY_KEYS.items():
        values = outcome.materializations.get(asset)
        if values is None:
            print(f"  {asset:<24} not materialized")
            continue
        print(f"  {asset:<24} " + "  ".join(f"{key}={values.get(key)}" for key in keys if key in values))
    for name, passed, description in outcome.checks:
        print(f"  check {name:<40} {'passed' if passed else 'FAILED'}: {description}")
    for failure in outcome.failures:
        print(f"  failure {failure}", file=sys.stderr)


def chunks(start: dt.date, end: dt.date, days_per_run: int) -> list[tuple[dt.date, dt.date]]:
    """[start, end] cut into consecutive runs of at most ``days_per_run`` days."""
    found, first = [], start
    while first <= end:
        last = min(end, first + dt.timedelta(days=days_per_run - 1))
        found.append((first, last))
        first = last + dt.timedelta(days=1)
    return found


def staggered(parts: list[tuple[dt.date, dt.date]], workers: int) -> list[tuple[dt.date, dt.date]]:
    """``parts`` in the order ``workers`` processes should take them so their runs are out of step.

    Runs of one size started together would extract and map together, with no push going out, then
    push together, sharing the account's rate. So the first ``workers - 1`` parts are cut: worker k's
    first run holds (k + 1) / ``workers`` of its part, and what is cut off goes last, where it fills
    the range's tail. The runs can drift back into step later (their sizes and the machine vary);
    cutting parts again when they do was measured to lose more than it gained (``BENCHMARKS.md``). A
    part of one day cannot be cut, and is left whole."""
    if workers < 2 or len(parts) < workers:
        return list(parts)
    heads, tails = [], []
    for k, (first, last) in enumerate(parts[: workers - 1]):
        days = (last - first).days + 1
        head_days = round(days * (k + 1) / workers)
        if 1 <= head_days < days:
            cut = first + dt.timedelta(days=head_days - 1)
            heads.append((first, cut))
            tails.append((cut + dt.timedelta(days=1), last))
        else:
            heads.append((first, last))
    return [*heads, *parts[workers - 1 :], *tails]


def planned_by_volume(start: dt.date, end: dt.date, budget: int) -> list[tuple[dt.date, dt.date]] | None:
    """The range as runs of at most ``budget`` documents (``cli.plan``), printed; None when
    commercetools gives no counts (the caller falls back to runs of ``sync.days_per_run`` days)."""
    from ct_ometria.cli.plan import client_count, plan_runs
    from ct_ometria.commercetools.client import CommercetoolsClient
    from ct_ometria.defs.resources import client_timeout

    began = time.monotonic()
    print(f"counting what {start} .. {end} holds in commercetools, to cut it into runs", file=sys.stderr)
    with CommercetoolsClient(commercetools_from_env(), timeout=client_timeout(http_timeout())) as client:
        try:
            runs = plan_runs(start, end, client_count(client), budget)
        except (UpstreamError, UpstreamUnavailable) as error:
            # Sizing is an optimisation: the runs themselves meet (and report) what stopped it.
            print(f"could not count what to sync ({error}): runs of sync.days_per_run days", file=sys.stderr)
            return None
        queries = client.requests
    if runs is None:
        print("commercetools gave no counts to size runs by: runs of sync.days_per_run days", file=sys.stderr)
        return None
    days = sorted(run.days for run in runs)
    # A day at commercetools' cap holds at least what was counted.
    at_least = "at least " if any(run.capped for run in runs) else ""
    print(f"{len(runs)} run(s) of at most {budget} documents each ({days[0]}..{days[-1]} days; "
          f"{at_least}{sum(run.documents for run in runs)} documents counted in {queries} queries, "
          f"{time.monotonic() - began:.1f}s)", file=sys.stderr)
    return [(run.first, run.last) for run in runs]


def sync_command(start: dt.date, end: dt.date, dry_run: bool = False, days_per_run: int | None = None,
                 workers: int = 1) -> int:  # fmt: skip
    """The range cut into runs: by volume (``sync.records_per_run`` documents each, ``cli.plan``)
    unless ``days_per_run`` is given or that setting is null, then ``days_per_run`` days each (default:
    the mapping config's ``sync.days_per_run``, as a UI backfill). Memory holds one run, not the
    range; with ``workers`` > 1, that many runs go at once as their own processes, so one run's
    extraction overlaps another's push (the account's rate is shared between them)."""
    if end < start:
        raise ConfigError(f"--end {end} is before --start {start}")
    if days_per_run is not None and days_per_run < 1:
        raise ConfigError(f"--days-per-run must be at least 1, got {days_per_run}")
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    check_settings()  # once, before counting or any run: a missing variable is named first
    parts = None
    if days_per_run is None:
        sync = load_mapping_config(mapping_config_path()).sync
        days_per_run = sync.days_per_run
        if sync.records_per_run and end > start:
            check_range(start, end)
            parts = planned_by_volume(start, end, sync.records_per_run)
    if parts is None:
        parts = chunks(start, end, days_per_run)
    if len(parts) == 1:
        return _sync_one(start, end, dry_run)
    check_workers_storage(workers)  # before any run, once there is more than one to run at once
    runs = staggered(parts, workers)
    if len(runs) > len(parts):
        print(f"{workers} workers start out of step: {len(runs) - len(parts)} part(s) cut in two, "
              f"the rest of each synced last ({len(runs)} runs)", file=sys.stderr)  # fmt: skip
    if workers <= 1:
        failed = [part for part in runs if _sync_one(*part, dry_run) != 0]
    else:
        failed = _sync_in_processes(runs, dry_run, workers)
    if failed:
        print(f"{len(failed)} of {len(runs)} runs failed: " + ", ".join(f"{a} .. {b}" for a, b in failed), file=sys.stderr)
    return 1 if failed else 0


@dataclass
class _Child:
    """A ``ct_ometria.cli.part`` process: it loads the code location first, then runs the part it is given."""

    process: subprocess.Popen
    output: Any  # its stdout and stderr: a file, not a pipe (a child's log can outgrow a pipe's buffer)
    part: tuple[dt.date, dt.date] | None = None

    @classmethod
    def start(cls) -> _Child:
        output = tempfile.TemporaryFile("w+")
        process = subprocess.Popen([sys.executable, "-m", "ct_ometria.cli.part"], stdin=subprocess.PIPE,
                                   stdout=output, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        return cls(process, output)

    def give(self, part: tuple[dt.date, dt.date], dry_run: bool, priority: int) -> None:
        self.part = part
        try:
            self.process.stdin.write(f"{part[0]} {part[1]} priority={priority}{' dry-run' if dry_run else ''}\n")
            self.process.stdin.close()
        except BrokenPipeError:
            pass  # it died while starting: its output says why, and its exit status fails the part

    def dismiss(self) -> None:
        """Ends a child that was never given a part."""
        self.process.stdin.close()
        self.process.wait()
        self.output.close()


def _sync_in_processes(parts: list[tuple[dt.date, dt.date]], dry_run: bool, workers: int) -> list[tuple[dt.date, dt.date]]:
    """Each part is one run in a process of its own, ``workers`` at a time. One more process is always
    starting: Python, Dagster and the code location take seconds to load, during which no run of the
    range would push; a part goes to a process that has loaded already."""
    ensure_dagster_home()
    pending, running, failed = list(parts), [], []
    spare: _Child | None = None
    try:
        while pending or running:
            while pending and len(running) < workers:
                child, spare = spare or _Child.start(), None
                priority = len(pending) - len(parts)  # 0 for the first part given, then -1, -2, ...
                child.give(pending.pop(0), dry_run, priority)
                running.append(child)
            if pending and spare is None:
                spare = _Child.start()
            for child in list(running):
                if child.process.poll() is None:
                    continue
                running.remove(child)
                child.output.seek(0)
                print(child.output.read(), end="")
                child.output.close()
                if child.process.returncode != 0:
                    failed.append(child.part)
            time.sleep(0.2)
    finally:
        if spare is not None:
            spare.dismiss()
    return failed


def part_from_parent() -> int:
    """The child side of ``_sync_in_processes``: load what every run needs, then run the one part the
    parent writes on stdin (``START END priority=P``, then ``dry-run`` for a dry run). Nothing written:
    the range was done before this process was needed, and it ends."""
    quiet_dagster()
    import ct_ometria.definitions  # noqa: F401  the slow part of a start, done before the part is known

    words = sys.stdin.readline().split()
    if not words:
        return 0
    start, end = dt.date.fromisoformat(words[0]), dt.date.fromisoformat(words[1])
    priority = next((int(word.removeprefix("priority=")) for word in words[2:] if word.startswith("priority=")), None)
    return _sync_one(start, end, dry_run="dry-run" in words[2:], priority=priority)


def _sync_one(start: dt.date, end: dt.date, dry_run: bool = False, priority: int | None = None) -> int:
    home = ensure_dagster_home()
    outcome = run_sync(start, end, dry_run, priority)
    print_summary(outcome, start, end, home)
    if dry_run:
        for asset in SYNC_ASSETS:
            values = outcome.materializations.get(asset) or {}
            print(f"dry run {asset}: would send {values.get('would_send')} "
                  f"(new {values.get('new')}, changed {values.get('changed')}, unchanged {values.get('unchanged')})")
            samples = values.get("sample_payloads")
            if samples and samples != "_none_":
                print(samples)
    return 0 if outcome.success else 1
