"""Near-real-time events: three assets, each launched by its sensor when there is something new.

- ``ometria_message_events``: commercetools Messages (orders, refunds, cancellations, shipments,
  customers and their consent, deletions, product publication) since the ledger's message cursor.
- ``ometria_cart_events``: carts modified since the cart cursor, diffed against their snapshots into
  ``add_to_cart`` and ``checkout_started`` custom events.
- ``ometria_storefront_events``: the collector's inbox, drained into custom events.

Each materialization is one window of events; its metadata (counts, lag, parked) is the dashboard,
and its check fails when something could not be delivered.
"""

import datetime as dt
import statistics
import time

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSelection,
    Config,
    DefaultSensorStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    sensor,
)

from ct_ometria.commercetools.client import MAX_PAGE_SIZE, CommercetoolsClient, ct_datetime, parse_ct_datetime
from ct_ometria.commercetools.resolve import fetch_stores
from ct_ometria.config import MappingConfig
from ct_ometria.defs.resources import CommercetoolsResource, LedgerResource, MappingConfigResource, OmetriaResource
from ct_ometria.events.carts import SOURCE as CART_SOURCE
from ct_ometria.events.carts import poll_carts
from ct_ometria.events.collector import SOURCE as STOREFRONT_SOURCE
from ct_ometria.events.effects import EffectReport, Effects
from ct_ometria.events.inbox import Drain, drain
from ct_ometria.events.messages import plan_messages, read_messages
from ct_ometria.ledger.events import EventStore
from ct_ometria.ledger.store import Ledger
from ct_ometria.mapping.stores import resolve_stores
from ct_ometria.settings import events_interval

MESSAGES_CURSOR = "commercetools_messages_watermark"
CARTS_CURSOR = "commercetools_carts_watermark"
MESSAGES_DELIVERED, MESSAGES_RETAINED = "message_effects_delivered", "messages_within_retention"
CARTS_DELIVERED, STOREFRONT_DELIVERED = "cart_events_delivered", "storefront_events_delivered"
# A run that failed is requested again after this long, even when nothing new arrived.
RETRY_EPOCH_SECONDS = 600
SENSOR_PAGES = 4
EVENTS = dict(group_name="events", kinds={"commercetools", "ometria"})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def watermark(ledger: Ledger, name: str, config: MappingConfig) -> dt.datetime:
    """The cursor's moment, or (first poll) the configured look-back from now."""
    stored = ledger.cursor(name)
    return parse_ct_datetime(stored) if stored else _now() - dt.timedelta(minutes=config.events.initial_lookback_minutes)


def _epoch() -> int:
    return int(time.time() // RETRY_EPOCH_SECONDS)


def _lag(values: list[float]) -> dict[str, MetadataValue]:
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"lag_p50_seconds": MetadataValue.float(round(statistics.median(ordered), 3)),
            "lag_p95_seconds": MetadataValue.float(round(p95, 3))}  # fmt: skip


def _delivery_metadata(report: EffectReport) -> dict[str, MetadataValue]:
    metadata = {}
    for record_type in ("product", "contact", "order"):
        delivery = report.deliveries.get(record_type)
        metadata[f"{record_type}s_sent"] = MetadataValue.int(delivery.report.sent if delivery else 0)
        metadata[f"{record_type}s_unchanged"] = MetadataValue.int(len(delivery.plan.unchanged) if delivery else 0)
    return metadata


def _drain_metadata(result: Drain) -> dict[str, MetadataValue]:
    return {
        "events_read": MetadataValue.int(result.read),
        "events_sent": MetadataValue.int(result.sent),
        "events_parked": MetadataValue.int(result.parked),
        "push_requests": MetadataValue.int(result.requests),
        "async_errors_parked": MetadataValue.int(result.async_errors),
        "by_type": MetadataValue.json(dict(result.by_type)),
        **_lag(result.lag_seconds),
    }


def _drain_check(check_name: str, result: Drain, what: str) -> AssetCheckResult:
    ok = result.aborted is None and result.parked == 0 and result.async_errors == 0
    description = (f"{result.sent} {what} sent; {result.parked} parked with their reason"
                   + (f"; stopped: {result.aborted}" if result.aborted else ""))  # fmt: skip
    return AssetCheckResult(check_name=check_name, passed=ok, severity=AssetCheckSeverity.WARN if result.aborted is None
                            else AssetCheckSeverity.ERROR, description=description,
                            metadata={"sent": result.sent, "parked": result.parked})  # fmt: skip


def _stores(client: CommercetoolsClient, config: MappingConfig):
    stores, project = fetch_stores(client)
    return resolve_stores(stores, project, config)


@asset(
    **EVENTS,
    pool="events_messages",
    check_specs=[
        AssetCheckSpec(MESSAGES_DELIVERED, asset="ometria_message_events",
                       description="Every effect of the window's messages reached Ometria (or was parked with its reason)."),
        AssetCheckSpec(MESSAGES_RETAINED, asset="ometria_message_events",
                       description="The message cursor is within the project's message retention; when it is not, "
                                   "messages were lost and the affected entities were re-synced by window."),
    ],  # fmt: skip
)
def ometria_message_events(
    context: AssetExecutionContext, commercetools: CommercetoolsResource, ometria: OmetriaResource,
    ledger: LedgerResource, mapping: MappingConfigResource,
) -> MaterializeResult:  # fmt: skip
    """commercetools Messages since the cursor, acted on once each: orders created or imported, state
    and shipment changes, cancellations, returns and refunds re-send their order; customer creation,
    email and consent changes (an opt-out included) re-send the contact; product publication re-sends
    the product, a deleted product goes inactive; a deleted customer gets a data-deletion request
    (6 per minute, queued beyond that). Duplicates are dropped by message id, each resource's messages
    are taken in ``sequenceNumber`` order, and a message older than the version already acted on is
    dropped. Each affected resource is read again and mapped as the daily sync maps it."""
    config = mapping.load()
    store = ledger.open()
    events = EventStore(store)
    started = _now()
    mark = watermark(store, MESSAGES_CURSOR, config)
    retention_edge = started - dt.timedelta(days=config.events.message_retention_days)
    behind = mark < retention_edge
    with commercetools.client() as ct, ometria.client() as client:
        stores = _stores(ct, config)
        effects = Effects(ct, client, store, config, stores, run_id=context.run.run_id, stage="ometria_message_events",
                          log=context.log.info)  # fmt: skip
        resync = None
        if behind:
            context.log.error(
                f"the message cursor ({mark.isoformat()}) is older than the project's message retention "
                f"({config.events.message_retention_days} days): messages were lost; re-syncing every customer, "
                f"order and product modified since the cursor"
            )
            resync = effects.resync(mark)
        since = max(mark - dt.timedelta(seconds=config.events.overlap_seconds), retention_edge)
        messages = read_messages(ct, since)
        plan = plan_messages(messages, events)
        report = effects.apply(plan)
    events.mark_processed(plan.messages, report.versions)
    # The cursor only moves forward: to the newest message read, or (after a re-sync by window of
    # everything modified up to the run's start) to that start.
    moments = [mark, *(parse_ct_datetime(m["createdAt"]) for m in messages), *([started] if behind else [])]
    if max(moments) > mark or store.cursor(MESSAGES_CURSOR) is None:
        store.set_cursor(MESSAGES_CURSOR, ct_datetime(max(moments)))
    events.prune_processed(retention_edge)
    lags = [(_now() - parse_ct_datetime(m["createdAt"])).total_seconds() for m in plan.messages]
    failures = report.failures + (resync.failures if resync else [])
    metadata = {
        "messages_read": MetadataValue.int(plan.read),
        "duplicates_dropped": MetadataValue.int(plan.duplicates),
        "stale_dropped": MetadataValue.int(plan.stale),
        "acted_on": MetadataValue.int(plan.acted_on),
        "by_type": MetadataValue.json(dict(plan.by_type)),
        "sequence_gaps": MetadataValue.int(len(plan.gaps)),
        "deactivated_products": MetadataValue.int(report.deactivated),
        "products_pulled_forward": MetadataValue.int(report.pulled_forward),
        "deletion_requests": MetadataValue.json(dict(report.deletions)),
        "gone_from_commercetools": MetadataValue.json({k: len(v) for k, v in report.gone.items() if v}),
        "parked": MetadataValue.int(report.parked),
        "cursor": MetadataValue.text(store.cursor(MESSAGES_CURSOR) or ""),
        "resynced_by_window": MetadataValue.bool(behind),
        **_delivery_metadata(report),
        **_lag(lags),
    }
    for gap in plan.gaps[:5]:
        context.log.warning(f"sequence gap (a message not visible yet, or expired): {gap}")
    return MaterializeResult(
        metadata=metadata,
        check_results=[
            AssetCheckResult(
                check_name=MESSAGES_DELIVERED, passed=not failures and report.parked == 0,
                severity=AssetCheckSeverity.ERROR if failures else AssetCheckSeverity.WARN,
                description="; ".join(failures[:5]) or f"{plan.acted_on} message(s) acted on; {report.parked} parked",
            ),
            AssetCheckResult(
                check_name=MESSAGES_RETAINED, passed=not behind, severity=AssetCheckSeverity.ERROR,
                description=(f"cursor {mark.isoformat()} was behind the {config.events.message_retention_days}-day "
                             "retention: entities re-synced by window") if behind else "cursor within retention",
            ),
        ],
    )  # fmt: skip


@asset(
    **EVENTS,
    pool="events_carts",
    check_specs=[AssetCheckSpec(CARTS_DELIVERED, asset="ometria_cart_events",
                                description="Every cart event with an identity reached Ometria; none was parked.")],  # fmt: skip
)
def ometria_cart_events(
    context: AssetExecutionContext, commercetools: CommercetoolsResource, ometria: OmetriaResource,
    ledger: LedgerResource, mapping: MappingConfigResource,
) -> MaterializeResult:  # fmt: skip
    """Carts modified since the cart cursor, each diffed against its last snapshot: ``add_to_cart``
    for a new line or a larger quantity (product, variant, SKU, units added, unit price, currency,
    store), ``checkout_started`` once when the cart gains a shipping address or a payment, or is
    frozen. Anonymous carts' events are held until the cart names an email or a customer, then sent."""
    config = mapping.load()
    store = ledger.open()
    events = EventStore(store)
    mark = watermark(store, CARTS_CURSOR, config)
    with commercetools.client() as ct, ometria.client() as client:
        stores = _stores(ct, config)
        poll = poll_carts(ct, events, mark - dt.timedelta(seconds=config.events.overlap_seconds),
                          config.products.id_strategy)  # fmt: skip
        if poll.newest is not None and poll.newest > mark:
            store.set_cursor(CARTS_CURSOR, ct_datetime(poll.newest))
        result = drain(client, events, store, ct, config, stores, sources=[CART_SOURCE], run_id=context.run.run_id)
    for problem in poll.invalid[:5]:
        context.log.warning(f"cart skipped: {problem}")
    metadata = {
        "carts_read": MetadataValue.int(poll.carts),
        "carts_unchanged": MetadataValue.int(poll.unchanged),
        "events_emitted": MetadataValue.json(dict(poll.events)),
        "events_held_anonymous": MetadataValue.int(events.counts([CART_SOURCE]).get("held", 0)),
        "events_released": MetadataValue.int(poll.released),
        "invalid_carts": MetadataValue.int(len(poll.invalid)),
        **_drain_metadata(result),
    }
    return MaterializeResult(metadata=metadata, check_results=[_drain_check(CARTS_DELIVERED, result, "cart events")])


class InboxConfig(Config):
    """``up_to``: drain inbox rows up to this id (the sensor sets it; empty drains everything pending)."""

    up_to: int | None = None


@asset(
    **EVENTS,
    pool="events_storefront",
    check_specs=[AssetCheckSpec(STOREFRONT_DELIVERED, asset="ometria_storefront_events",
                                description="Every storefront event reached Ometria; none was parked.")],  # fmt: skip
)
def ometria_storefront_events(
    context: AssetExecutionContext, config: InboxConfig, commercetools: CommercetoolsResource,
    ometria: OmetriaResource, ledger: LedgerResource, mapping: MappingConfigResource,
) -> MaterializeResult:  # fmt: skip
    """Storefront signals (product views, list views, searches and the other configured types) that
    the collector stored, sent as Ometria custom events in batches of 100, with store, locale and
    currency; an event that cannot be sent (an invalid email, an unknown customer) is parked with its
    reason."""
    settings = mapping.load()
    store = ledger.open()
    events = EventStore(store)
    with commercetools.client() as ct, ometria.client() as client:
        stores = _stores(ct, settings)
        result = drain(client, events, store, ct, settings, stores, sources=[STOREFRONT_SOURCE], up_to=config.up_to,
                       run_id=context.run.run_id)  # fmt: skip
    metadata = {**_drain_metadata(result), "inbox": MetadataValue.json(events.counts([STOREFRONT_SOURCE]))}
    return MaterializeResult(metadata=metadata, check_results=[_drain_check(STOREFRONT_DELIVERED, result, "storefront events")])


message_events_job = define_asset_job("commercetools_message_events", selection=AssetSelection.assets(ometria_message_events),
                                      description="Act on commercetools Messages since the cursor.")  # fmt: skip
cart_events_job = define_asset_job("commercetools_cart_events", selection=AssetSelection.assets(ometria_cart_events),
                                   description="Diff modified carts into add-to-cart and checkout events.")  # fmt: skip
storefront_events_job = define_asset_job("storefront_events", selection=AssetSelection.assets(ometria_storefront_events),
                                         description="Send the collector's inbox to Ometria.")  # fmt: skip

INTERVAL = events_interval()


@sensor(job=message_events_job, minimum_interval_seconds=INTERVAL, default_status=DefaultSensorStatus.RUNNING)
def commercetools_messages_sensor(
    context: SensorEvaluationContext, commercetools: CommercetoolsResource, ledger: LedgerResource,
    mapping: MappingConfigResource,
):  # fmt: skip
    """Launches the message job when commercetools holds messages not acted on yet (or the cursor has
    fallen behind the retention). Run keys name the newest message and a ten-minute epoch: a tick
    never launches the same window twice, and a failed window is tried again."""
    config = mapping.load()
    store = ledger.open()
    mark = watermark(store, MESSAGES_CURSOR, config)
    now = _now()
    retention_edge = now - dt.timedelta(days=config.events.message_retention_days)
    if mark < retention_edge:
        return RunRequest(run_key=f"messages-behind-{ct_datetime(mark)}-{_epoch()}", tags={"ct_ometria/behind_retention": "true"})
    with commercetools.client() as ct:
        # A tick only needs to know whether anything is new: a backlog is read by the run, not here.
        messages = read_messages(ct, max(mark - dt.timedelta(seconds=config.events.overlap_seconds), retention_edge),
                                 max_pages=SENSOR_PAGES)  # fmt: skip
    done = EventStore(store).processed([m["id"] for m in messages])
    new = [m for m in messages if m["id"] not in done]
    if not new and len(messages) >= SENSOR_PAGES * MAX_PAGE_SIZE:
        # More messages than a tick reads, none new among them: let a run read them all.
        return RunRequest(run_key=f"messages-backlog-{_epoch()}", tags={"ct_ometria/messages": "backlog"})
    if not new and EventStore(store).pending_deletions(1):
        # Deletion requests wait for Ometria's per-minute allowance: one run a minute sends the next ones.
        return RunRequest(run_key=f"deletions-{int(time.time() // 60)}", tags={"ct_ometria/messages": "deletions"})
    if not new:
        return SkipReason(f"no new messages since {ct_datetime(mark)}")
    newest = max(new, key=lambda m: (m["createdAt"], m["id"]))
    context.update_cursor(newest["createdAt"])
    return RunRequest(run_key=f"messages-{newest['createdAt']}-{newest['id']}-{len(new)}-{_epoch()}",
                      tags={"ct_ometria/messages": str(len(new))})  # fmt: skip


@sensor(job=cart_events_job, minimum_interval_seconds=INTERVAL, default_status=DefaultSensorStatus.RUNNING)
def commercetools_carts_sensor(
    context: SensorEvaluationContext, commercetools: CommercetoolsResource, ledger: LedgerResource,
    mapping: MappingConfigResource,
):  # fmt: skip
    """Launches the cart job when a cart changed after the cart cursor, or cart events wait to be sent."""
    config = mapping.load()
    store = ledger.open()
    mark = watermark(store, CARTS_CURSOR, config)
    with commercetools.client() as ct:
        params = [("where", "lastModifiedAt > :mark"), ("var.mark", ct_datetime(mark)), ("sort", "lastModifiedAt desc"),
                  ("limit", "1"), ("withTotal", "false")]  # fmt: skip
        changed = ct.get("/carts", params).get("results", [])
    pending = EventStore(store).newest_pending([CART_SOURCE])
    if not changed and pending is None:
        return SkipReason(f"no cart changed since {ct_datetime(mark)}")
    newest = changed[0]["lastModifiedAt"] if changed else ct_datetime(mark)
    return RunRequest(run_key=f"carts-{newest}-{pending}-{_epoch()}")


@sensor(job=storefront_events_job, minimum_interval_seconds=INTERVAL, default_status=DefaultSensorStatus.RUNNING)
def storefront_inbox_sensor(context: SensorEvaluationContext, ledger: LedgerResource):
    """Launches the storefront job for the inbox rows stored since the last one it launched."""
    newest = EventStore(ledger.open()).newest_pending([STOREFRONT_SOURCE])
    if newest is None:
        return SkipReason("the storefront inbox is empty")
    return RunRequest(
        run_key=f"inbox-{newest}-{_epoch()}",
        run_config={"ops": {"ometria_storefront_events": {"config": {"up_to": newest}}}},
    )


EVENT_ASSETS = [ometria_message_events, ometria_cart_events, ometria_storefront_events]
EVENT_JOBS = [message_events_job, cart_events_job, storefront_events_job]
EVENT_SENSORS = [commercetools_messages_sensor, commercetools_carts_sensor, storefront_inbox_sensor]
