"""Small runs of every benchmark script, so none can rot; the figures themselves are in BENCHMARKS.md."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from starlette.testclient import TestClient

from bench.ctserver import create_app
from bench.store import Store

ROOT = Path(__file__).resolve().parents[2]


def script(name: str, *args: str, tmp_path: Path) -> dict:
    figures = tmp_path / f"{name}.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), *args, "--json", str(figures)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(figures.read_text())


def test_the_backfill_benchmark_sends_the_whole_store_without_a_429(tmp_path):
    figures = script("backfill", "--orders", "500", "--days", "5", "--latency-ms", "0", tmp_path=tmp_path)
    store = Store(500, 5)
    assert figures["records_sent"] == store.records() == 800
    assert figures["stored"] == {"contact": 100, "order": 500, "product": 200, "custom_event": 0}
    assert figures["throttled_429"] == 0 and figures["peak_rss_mb"] > 0 and figures["push_rate_margin"] == 0.10


def test_the_backfill_benchmark_can_sync_only_the_last_days_of_a_store(tmp_path):
    figures = script("backfill", "--orders", "500", "--days", "5", "--last-days", "2", "--latency-ms", "0",
                     "--push-rate-margin", "0.04", tmp_path=tmp_path)  # fmt: skip
    # Orders and customers of the last two of five days; the products those orders name are pulled forward.
    assert figures["stored"]["order"] == 200 and figures["stored"]["contact"] == 40
    assert figures["last_days"] == 2 and figures["throttled_429"] == 0 and figures["push_rate_margin"] == 0.04


def test_the_delta_benchmark_sends_exactly_the_changed_records(tmp_path):
    figures = script("delta", "--orders", "1000", "--days", "5", "--share", "0.05", "--latency-ms", "0", tmp_path=tmp_path)
    assert figures["exactly_the_changed"] is True
    assert figures["changed_sources"] == 50 + 10 + 3 and figures["records_sent"] == 50 + 10 + 3 * 4


def test_the_one_account_benchmark_runs_two_backfills_and_events_under_the_accounts_rate(tmp_path):
    figures = script("one_account", "--orders", "2000", "--days", "4", "--push-rate-margin", "0.1", tmp_path=tmp_path)
    store = Store(2000, 4)
    assert figures["failed_runs"] == 0 and figures["push_rate_margin"] == 0.1
    assert figures["records"] == store.records() + figures["event_records"] and figures["event_records"] > 0
    assert figures["throttled_429"] == 0


def test_the_lookup_benchmark_times_a_big_ledgers_lookups_before_and_after_its_analysis(tmp_path):
    figures = script("lookup", "--rows", "100000", "--ids", "1200", tmp_path=tmp_path)
    assert figures["rows"] == 100000 and figures["stale_seconds"] > 0 and figures["analysed_seconds"] > 0
    assert "pushed_records_source" in figures["stale_plan"] and "pushed_records_pkey" in figures["analysed_plan"]


def test_the_cpu_benchmark_prints_a_cost_per_thousand_records(tmp_path):
    figures = script("cpu", "--orders", "500", tmp_path=tmp_path)
    assert figures["all"]["records"] == 500 + 100 + 50 * 4 and figures["all"]["ms_per_1000"] > 0


def test_the_stores_windows_hold_exactly_the_documents_modified_in_them():
    # 8,000 customers over 28 days: one every 302.4 s, so a document sits exactly on each week's edge.
    store = Store(40_000, 28)
    edges = [store.start + dt.timedelta(days=day) for day in range(0, 29, 7)]
    for kind in ("customer", "order", "product"):
        windows = [store.window(kind, start, end) for start, end in zip(edges, edges[1:], strict=False)]
        assert sum(len(window) for window in windows) == store.counts[kind]
        for (start, end), window in zip(zip(edges, edges[1:], strict=False), windows, strict=True):
            assert all(start <= store.modified(kind, index) < end for index in window)


def test_the_streaming_server_pages_a_window_by_id_and_refuses_what_it_does_not_serve():
    store = Store(1000, 10)
    client = TestClient(create_app(store))
    auth = {"Authorization": "Bearer bench-token"}
    day = store.start + dt.timedelta(days=2)
    window = [("where", "lastModifiedAt >= :windowStart and lastModifiedAt < :windowEnd"),
              ("var.windowStart", day.isoformat()), ("var.windowEnd", (day + dt.timedelta(days=1)).isoformat()),
              ("sort", "id asc"), ("limit", "30")]  # fmt: skip
    documents, last = [], []
    while True:
        cursor = [("where", "id > :lastId"), ("var.lastId", last[0])] if last else []
        page = client.get("/bench/orders", params=[*window, *cursor], headers=auth).json()["results"]
        documents += page
        if len(page) < 30:
            break
        last = [page[-1]["id"]]
    ids = [d["id"] for d in documents]
    assert len(ids) == 100 and ids == sorted(ids) and len(set(ids)) == 100
    assert all(day.isoformat()[:10] == d["lastModifiedAt"][:10] for d in documents)
    refused = client.get("/bench/orders", params=[("where", "orderState = \"Open\"")], headers=auth)
    assert refused.status_code == 400 and "not served" in refused.json()["message"]
    assert client.get("/bench/orders", params=window).status_code == 401


def test_idle_spans_are_the_gaps_without_a_push_including_before_the_first_and_after_the_last():
    from bench.common import idle_spans

    began = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    pushes = [{"received_at": at} for at in ("2026-01-01T00:00:05.500Z", "2026-01-01T00:00:05Z", "2026-01-01T00:00:09Z")]
    # Out of order as given; 0.5 s between the first two is not a gap; 1 s after the last is not either.
    assert idle_spans(pushes, began, began + 10) == [(0.0, 5.0), (5.5, 3.5)]
    assert idle_spans(pushes, began, began + 12) == [(0.0, 5.0), (5.5, 3.5), (9.0, 3.0)]
