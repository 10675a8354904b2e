"""The commercetools client against the real emulator: auth, keyset paging, windows, retries, errors."""

import datetime as dt

import pytest

from ct_ometria.commercetools.client import CommercetoolsClient, ct_datetime
from ct_ometria.errors import UpstreamError, UpstreamUnavailable
from ct_ometria.local.sample import customer_document
from ct_ometria.retry import RetryBudget
from ct_ometria.settings import commercetools_from_env

UTC = dt.timezone.utc
DAY = dt.datetime(2024, 5, 1, tzinfo=UTC)
FAST = RetryBudget(max_attempts=4, max_seconds=20, initial_wait=0.01, max_wait=0.2)


def client_for(emulator, **kwargs) -> CommercetoolsClient:
    return CommercetoolsClient(commercetools_from_env(emulator.env()), budget=kwargs.pop("budget", FAST), **kwargs)


def ids_in_window(client, start, end, **kwargs) -> list[str]:
    return [doc["id"] for page in client.modified_between("customers", start, end, **kwargs) for doc in page]


def test_keyset_paging_reads_every_record_once_in_id_order(emulator):
    documents = [customer_document(f"c-{i:05d}", f"u{i}@example.com", DAY + dt.timedelta(seconds=i)) for i in range(1250)]
    emulator.seed(customer=documents)
    with client_for(emulator) as client:
        pages = list(client.modified_between("customers", DAY, DAY + dt.timedelta(days=1)))
        assert [len(page) for page in pages] == [500, 500, 250]
        ids = [doc["id"] for page in pages for doc in page]
        assert ids == sorted(doc["id"] for doc in documents)
        assert client.requests == 3
        assert client.auth.fetched == 1


def test_window_is_half_open_on_last_modified_at(emulator):
    at = lambda *args: dt.datetime(2024, 5, *args, tzinfo=UTC)  # noqa: E731
    emulator.seed(
        customer=[
            customer_document("before", "a@example.com", at(1, 23, 59, 59, 999000)),
            customer_document("start", "b@example.com", at(2)),
            customer_document("inside", "c@example.com", at(2, 12)),
            customer_document("last-ms", "d@example.com", at(2, 23, 59, 59, 999000)),
            customer_document("end", "e@example.com", at(3)),
        ]
    )
    with client_for(emulator) as client:
        assert ids_in_window(client, at(2), at(3)) == ["inside", "last-ms", "start"]


def test_a_window_is_counted_by_its_total_in_one_request(emulator):
    at = lambda *args: dt.datetime(2024, 5, *args, tzinfo=UTC)  # noqa: E731
    emulator.seed(customer=[customer_document(f"in-{i}", f"u{i}@example.com", at(2, i)) for i in range(12)]
                  + [customer_document("before", "a@example.com", at(1, 23, 59, 59, 999000)),
                     customer_document("end", "e@example.com", at(3))])  # fmt: skip
    with client_for(emulator) as client:
        assert client.count_modified("customers", at(2), at(3)) == 12
        assert client.count_modified("customers", at(1), at(4)) == 14
        assert client.count_modified("customers", at(4), at(5)) == 0
        assert client.requests == 3


def test_small_pages_stop_when_a_page_is_short(emulator):
    emulator.seed(customer=[customer_document(f"c-{i}", f"u{i}@example.com", DAY) for i in range(7)])
    with client_for(emulator) as client:
        assert len(ids_in_window(client, DAY, DAY + dt.timedelta(days=1), limit=3)) == 7
        assert client.requests == 3


def test_a_revoked_token_is_renewed(emulator):
    emulator.seed(customer=[customer_document("c-1", "a@example.com", DAY)])
    with client_for(emulator) as client:
        assert ids_in_window(client, DAY, DAY + dt.timedelta(days=1)) == ["c-1"]
        assert emulator.revoke_tokens() >= 1
        assert ids_in_window(client, DAY, DAY + dt.timedelta(days=1)) == ["c-1"]
        assert client.auth.fetched == 2


def test_the_token_is_cached_then_renewed_before_it_expires(emulator):
    emulator.seed(customer=[customer_document("c-1", "a@example.com", DAY)])
    now = [0.0]
    with client_for(emulator, clock=lambda: now[0]) as client:
        for _ in range(3):
            client.get("/customers")
        assert client.auth.fetched == 1
        now[0] = 172_800 - 301  # the emulator's tokens live 48 h; renewal starts 5 minutes before
        client.get("/customers")
        assert client.auth.fetched == 1
        now[0] = 172_800 - 299
        client.get("/customers")
        assert client.auth.fetched == 2


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (502, None), (504, None), (429, "1")])
def test_transient_statuses_are_retried(emulator, status, retry_after):
    emulator.seed(customer=[customer_document("c-1", "a@example.com", DAY)])
    emulator.fault("/customers", status=status, times=2, retry_after=retry_after)
    waits: list[float] = []
    with client_for(emulator, sleep=waits.append) as client:
        assert ids_in_window(client, DAY, DAY + dt.timedelta(days=1)) == ["c-1"]
        assert client.retries == 2
    if retry_after:
        assert waits == [1.0, 1.0]


def test_a_dropped_connection_is_retried(emulator):
    emulator.seed(customer=[customer_document("c-1", "a@example.com", DAY)])
    emulator.fault("/customers", drop=True, times=1)
    with client_for(emulator, sleep=lambda _: None) as client:
        assert ids_in_window(client, DAY, DAY + dt.timedelta(days=1)) == ["c-1"]
        assert client.retries == 1


def test_retries_stop_at_the_budget_with_a_plain_message(emulator):
    emulator.fault("/customers", status=503, times=10)
    with client_for(emulator, sleep=lambda _: None) as client:
        with pytest.raises(UpstreamUnavailable) as raised:
            ids_in_window(client, DAY, DAY + dt.timedelta(days=1))
    assert "commercetools GET /customers still failing after 4 attempts" in str(raised.value)
    assert "HTTP 503" in str(raised.value)


def test_other_client_errors_raise_with_commercetools_code_and_message(emulator):
    with client_for(emulator) as client:
        with pytest.raises(UpstreamError) as raised:
            client.get("/customers", {"where": "this is not a predicate"})
    assert raised.value.status == 400
    assert raised.value.code == "InvalidInput"
    assert "HTTP 400 InvalidInput" in str(raised.value)


def test_predicate_values_travel_as_variables_and_cannot_change_the_predicate(emulator):
    emulator.seed(customer=[customer_document('x" or id != "', "a@example.com", DAY), customer_document("c-2", "b@example.com", DAY)])
    with client_for(emulator) as client:
        pages = client.pages("customers", where="id = :wanted", variables={"wanted": 'x" or id != "'})
        assert [doc["id"] for page in pages for doc in page] == ['x" or id != "']


def test_refused_credentials_name_the_variables_and_not_the_secret(emulator):
    emulator.fault("/oauth/token", status=401, code="invalid_client")
    with client_for(emulator) as client:
        with pytest.raises(UpstreamError) as raised:
            client.get("/customers")
    message = str(raised.value)
    assert message.startswith("commercetools refused the client credentials for project test-project: HTTP 401 invalid_client")
    assert "check CTP_CLIENT_ID and CTP_CLIENT_SECRET" in message
    assert emulator.env()["CTP_CLIENT_SECRET"] not in message


def test_a_wrong_auth_url_is_named(emulator):
    env = {**emulator.env(), "CTP_AUTH_URL": emulator.base_url + "/nowhere"}
    with CommercetoolsClient(commercetools_from_env(env), budget=FAST) as client:
        with pytest.raises(UpstreamError, match=f"no token endpoint at CTP_AUTH_URL={env['CTP_AUTH_URL']}: HTTP 404"):
            client.get("/customers")


def test_an_unreachable_api_fails_with_a_short_message_naming_the_url():
    env = {
        "CTP_PROJECT_KEY": "p", "CTP_CLIENT_ID": "c", "CTP_CLIENT_SECRET": "s",
        "CTP_AUTH_URL": "http://127.0.0.1:9", "CTP_API_URL": "http://127.0.0.1:9",
    }  # fmt: skip
    with CommercetoolsClient(commercetools_from_env(env), budget=FAST, sleep=lambda _: None) as client:
        with pytest.raises(UpstreamUnavailable) as raised:
            client.get("/customers")
    assert str(raised.value).startswith(
        "commercetools token request to CTP_AUTH_URL=http://127.0.0.1:9 still failing after 4 attempts"
    )
    assert "connection failed (ConnectError" in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_ct_datetime_is_utc_with_milliseconds():
    cet = dt.timezone(dt.timedelta(hours=2))
    assert ct_datetime(dt.datetime(2024, 5, 1, 2, 0, 0, 123456, tzinfo=cet)) == "2024-05-01T00:00:00.123Z"
    with pytest.raises(ValueError, match="naive"):
        ct_datetime(dt.datetime(2024, 5, 1))
