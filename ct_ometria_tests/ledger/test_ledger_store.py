"""The ledger's own behaviour, on SQLite and on the machine's PostgreSQL."""

import os
import time
import uuid

import pytest
from sqlalchemy import create_engine, inspect, text

from ct_ometria.ledger import Ledger
from ct_ometria.ledger.store import Candidate

POSTGRES_URL = os.environ.get("CT_OMETRIA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def url_and_schema(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}", "ct_ometria"
        return
    schema = f"ct_ometria_test_{uuid.uuid4().hex[:10]}"
    yield POSTGRES_URL, schema
    with create_engine(POSTGRES_URL).begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


def item(record_id: str, content: str, version: int, email: str | None = None) -> Candidate:
    return Candidate("contact", record_id, content, b"{}", source_id=record_id, source_version=version,
                     identity_hash=email)  # fmt: skip


def test_an_old_ledger_is_migrated_and_keeps_its_rows(url_and_schema):
    url, schema = url_and_schema
    old = Ledger(url, schema, revision="0001")
    table = f"{schema}.pushed_records" if url.startswith("postgresql") else "pushed_records"
    with old.engine.begin() as connection:
        connection.execute(text(f"INSERT INTO {table} (record_type, record_id, content_hash, pushed_at) "
                                "VALUES ('contact', 'c-1', 'h1', CURRENT_TIMESTAMP)"))  # fmt: skip
    ledger = Ledger(url, schema)
    found = inspect(ledger.engine)
    on = schema if "postgresql" in url else None
    assert "identity_hash" in {c["name"] for c in found.get_columns("pushed_records", schema=on)}
    indexes = {i["name"]: i["column_names"] for i in found.get_indexes("pushed_records", schema=on)}
    assert indexes["pushed_records_source"] == ["record_type", "source_id"]
    assert [row["record_id"] for row in ledger.pushed("contact")] == ["c-1"]


def test_plan_new_changed_unchanged_stale_and_identity(url_and_schema):
    ledger = Ledger(*url_and_schema)
    ledger.record_accepted([item("a", "h1", 2, "e1"), item("b", "h2", 5, "e2"), item("c", "h3", 1, "e3")], "r1", None)
    plan = ledger.plan([item("a", "h1", 2, "e1"), item("b", "h9", 4, "e2"), item("c", "h8", 2, "e4"), item("d", "h4", 1)])
    assert [i.record_id for i in plan.unchanged] == ["a"]
    assert [i.record_id for i in plan.stale] == ["b"]
    assert [i.record_id for i in plan.changed] == ["c"] and [i.record_id for i in plan.identity_changed] == ["c"]
    assert [i.record_id for i in plan.new] == ["d"]


def test_an_older_version_never_replaces_a_newer_one_even_when_runs_race(url_and_schema):
    ledger = Ledger(*url_and_schema)
    ledger.record_accepted([item("a", "new", 7)], "r-new", None)
    ledger.record_accepted([item("a", "old", 3)], "r-old", None)  # a slower run finishing later
    [row] = ledger.pushed("contact")
    assert (row["content_hash"], row["source_version"], row["request_id"]) == ("new", 7, "r-new")


def test_dead_letters_count_attempts_and_resolve_on_acceptance(url_and_schema):
    ledger = Ledger(*url_and_schema)
    letter = {"record_type": "contact", "record_id": "a", "stage": "ometria_contacts", "reason": "email: bad",
              "source_id": "a"}  # fmt: skip
    ledger.park([letter])
    ledger.park([{**letter, "reason": "email: still bad"}])
    [open_letter] = ledger.dead_letters()
    assert (open_letter["attempts"], open_letter["reason"]) == (2, "email: still bad")
    assert ledger.open_counts() == {"contact": 1}
    ledger.record_accepted([item("a", "h", 1)], "r", None)
    assert ledger.dead_letters() == [] and ledger.open_counts() == {}


def test_a_letter_whose_id_outgrows_the_column_is_parked_under_a_digest(url_and_schema):
    ledger = Ledger(*url_and_schema)
    long_id = "x" * 400
    letter = {"record_type": "order", "record_id": long_id, "stage": "ct_orders", "reason": "orderNumber: too long",
              "source_id": long_id}  # fmt: skip
    ledger.park([letter])
    ledger.park([letter])
    [open_letter] = ledger.dead_letters()
    assert len(open_letter["record_id"]) <= 255 and open_letter["record_id"].startswith("x" * 180 + "~")
    assert open_letter["source_id"] == open_letter["record_id"] and open_letter["attempts"] == 2
    assert ledger.dead_letters(record_id=long_id) == [open_letter]  # found by the id it was parked under
    ledger.resolve_sources([long_id])
    assert ledger.dead_letters() == []


def _lookup_plan(connection, schema: str) -> str:
    ids = ", ".join(f"'{uuid.uuid4().hex}'" for _ in range(500))
    rows = connection.execute(text(f"EXPLAIN SELECT record_id FROM {schema}.pushed_records "
                                   f"WHERE record_type = 'order' AND record_id IN ({ids})")).scalars()  # fmt: skip
    return "\n".join(rows)


def _table_statistics(engine, schema: str) -> tuple[int, int]:
    """(rows changed since the last analysis, analyses so far) of the ledger's pushed_records."""
    with engine.connect() as connection:
        row = connection.execute(text("SELECT n_mod_since_analyze, analyze_count FROM pg_stat_user_tables "
                                      "WHERE schemaname = :s AND relname = 'pushed_records'"), {"s": schema}).one()  # fmt: skip
    return row.n_mod_since_analyze, row.analyze_count


def _insert_counted(engine, schema: str, record_type: str, count: int) -> None:
    """``count`` rows straight into the table, then wait until PostgreSQL's statistics counters show them."""
    before, _ = _table_statistics(engine, schema)
    with engine.begin() as connection:
        connection.execute(text(
            f"INSERT INTO {schema}.pushed_records (record_type, record_id, content_hash, source_id, pushed_at) "
            f"SELECT '{record_type}', '{record_type}-' || i, md5(i::text), '{record_type}-' || i, now() "
            f"FROM generate_series(1, {count}) i"))  # fmt: skip
    deadline = time.monotonic() + 10
    while _table_statistics(engine, schema)[0] < before + count:
        assert time.monotonic() < deadline, "the statistics counters never showed the inserted rows"
        time.sleep(0.1)


def test_bulk_lookups_keep_the_ledgers_statistics_fresh_as_a_backfill_grows_it(ledger_schema, monkeypatch):
    # A backfill pushes contacts first, then orders by the hundred thousand. Analysed while it held
    # contacts only, the planner expects almost no order rows and reads every one of them through the
    # source index for each 500 ids; the ledger's next bulk lookup analyses the table again, and the
    # lookups go by the primary key.
    from ct_ometria.ledger import store

    monkeypatch.setattr(store, "STATISTICS_CHECK_SECONDS", 0.0)  # the two analyses come seconds apart here
    ledger = Ledger(POSTGRES_URL, ledger_schema)
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {ledger_schema}.pushed_records SET (autovacuum_enabled = false)"))
        _insert_counted(engine, ledger_schema, "contact", 20_000)
        ledger.known("contact", [f"contact-{i}" for i in range(1, 1001)])
        _insert_counted(engine, ledger_schema, "order", 150_000)
        with engine.connect() as connection:
            assert "pushed_records_source" in _lookup_plan(connection, ledger_schema)  # what the stale statistics choose
        found = ledger.known("order", [f"order-{i}" for i in range(1, 1001)] + [f"absent-{i}" for i in range(1000)])
        assert len(found) == 1000
        with engine.connect() as connection:
            plan = _lookup_plan(connection, ledger_schema)
        assert "pushed_records_pkey" in plan and "pushed_records_source" not in plan
        # Statistics that are fresh are not gathered again.
        assert _table_statistics(engine, ledger_schema)[1] == 2
        ledger.known("order", [f"order-{i}" for i in range(1, 1001)])
        assert _table_statistics(engine, ledger_schema)[1] == 2
    finally:
        ledger.engine.dispose()
        engine.dispose()
