import pytest
import yaml

from ct_ometria.config import load_mapping_config, parse_mapping_config
from ct_ometria.errors import ConfigError
from ct_ometria.settings import commercetools_from_env, missing_variables, ometria_from_env

FULL = {
    "CTP_PROJECT_KEY": "shop",
    "CTP_CLIENT_ID": "client",
    "CTP_CLIENT_SECRET": "s3cret-value",
    "CTP_AUTH_URL": "https://auth.europe-west1.gcp.commercetools.com/",
    "CTP_API_URL": "https://api.europe-west1.gcp.commercetools.com",
    "OMETRIA_API_KEY": "om-key-value",
}


def without(name: str) -> dict[str, str]:
    return {key: value for key, value in FULL.items() if key != name}


def test_complete_environment_builds_settings():
    settings = commercetools_from_env(FULL)
    assert settings.auth_url == "https://auth.europe-west1.gcp.commercetools.com"
    assert settings.scopes == ()
    assert ometria_from_env(FULL).api_url == "https://api.ometria.com"
    assert missing_variables(FULL) == []


@pytest.mark.parametrize("name", ["CTP_PROJECT_KEY", "CTP_CLIENT_ID", "CTP_CLIENT_SECRET", "CTP_AUTH_URL", "CTP_API_URL"])
def test_missing_commercetools_variable_is_named(name):
    with pytest.raises(ConfigError, match=name):
        commercetools_from_env(without(name))
    assert missing_variables(without(name)) == [name]


def test_missing_ometria_key_is_named():
    with pytest.raises(ConfigError, match="OMETRIA_API_KEY"):
        ometria_from_env(without("OMETRIA_API_KEY"))


def test_wrong_url_names_the_variable_and_never_the_secrets():
    env = {**FULL, "CTP_API_URL": "api.example.com"}
    with pytest.raises(ConfigError) as raised:
        commercetools_from_env(env)
    assert "CTP_API_URL" in str(raised.value)
    assert "s3cret-value" not in str(raised.value)


def test_secrets_do_not_print():
    settings = commercetools_from_env(FULL)
    assert "s3cret-value" not in repr(settings) and "s3cret-value" not in str(settings)
    assert "om-key-value" not in repr(ometria_from_env(FULL))


def test_scopes_split_on_spaces():
    settings = commercetools_from_env({**FULL, "CTP_SCOPES": "view_customers:shop view_orders:shop"})
    assert settings.scopes == ("view_customers:shop", "view_orders:shop")


def test_default_mapping_config_serves_a_single_store():
    config = load_mapping_config(None)
    assert config.stores == []
    assert config.identity.customer_id_strategy == "id"
    assert config.sync.page_size == 500


def test_mapping_config_file(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "stores": [{"key": "nl", "ometria_store_id": "shop.nl/nl", "locales": ["nl-NL"], "currencies": ["EUR"]}],
                "default_store": "nl",
                "identity": {"customer_id_strategy": "customerNumber"},
                "sync": {"start_date": "2023-06-01"},
            }
        )
    )
    config = load_mapping_config(path)
    assert config.ometria_store_id("nl") == "shop.nl/nl"
    assert config.identity.customer_id_strategy == "customerNumber"
    assert str(config.sync.start_date) == "2023-06-01"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"identity": {"customer_id_strategy": "email"}}, "identity.customer_id_strategy"),
        ({"stores": [{"key": "nl", "currencies": ["euro"]}]}, "stores.0.currencies"),
        ({"stores": [{"key": "nl"}, {"key": "nl"}]}, "store keys must be unique"),
        ({"sync": {"page_size": 501}}, "sync.page_size"),
        ({"unknown_key": 1}, "unknown_key"),
    ],
)
def test_wrong_mapping_config_names_the_key(data, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_mapping_config(data, "CT_OMETRIA_CONFIG=mapping.yaml")


def test_unreadable_or_malformed_config_file_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="CT_OMETRIA_CONFIG=.*missing.yaml"):
        load_mapping_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stores: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_mapping_config(bad)


def test_the_example_mapping_config_is_valid():
    from pathlib import Path

    config = load_mapping_config(Path(__file__).resolve().parents[2] / "config" / "mapping.example.yaml")
    assert [store.key for store in config.stores] == ["nl-store", "uk-store"]
    assert config.ometria_store_id("uk-store") == "shop.example.co.uk/en"


@pytest.mark.parametrize("raw", ["fast", "0", "-1"])
def test_wrong_push_rate_is_named(raw):
    with pytest.raises(ConfigError, match="OMETRIA_PUSH_RATE_PER_SECOND"):
        ometria_from_env({**FULL, "OMETRIA_PUSH_RATE_PER_SECOND": raw})


def test_push_rate_defaults_to_eight_and_can_be_raised():
    assert ometria_from_env(FULL).push_rate_per_second == 8.0
    assert ometria_from_env({**FULL, "OMETRIA_PUSH_RATE_PER_SECOND": "16"}).push_rate_per_second == 16.0


@pytest.mark.parametrize("field", ["marketing_optin", "channels", "email", "customer_id"])
def test_ownership_cannot_take_consent_or_identity_from_commercetools(field):
    with pytest.raises(ConfigError, match="ownership cannot cover identity or consent fields"):
        parse_mapping_config({"ownership": {field: "ometria"}})


def test_a_range_is_cut_into_consecutive_chunks_of_days():
    import datetime as dt

    from ct_ometria.cli.sync import chunks

    day = dt.date(2024, 5, 1)
    assert chunks(day, day + dt.timedelta(days=6), 7) == [(day, day + dt.timedelta(days=6))]
    assert chunks(day, day + dt.timedelta(days=6), 3) == [
        (day, day + dt.timedelta(days=2)), (day + dt.timedelta(days=3), day + dt.timedelta(days=5)),
        (day + dt.timedelta(days=6), day + dt.timedelta(days=6)),
    ]  # fmt: skip


def test_workers_start_out_of_step_and_every_day_is_still_synced_once():
    import datetime as dt

    from ct_ometria.cli.sync import chunks, staggered

    day = dt.date(2024, 5, 1)
    weeks = chunks(day, day + dt.timedelta(days=27), 7)  # four runs of seven days
    two = staggered(weeks, 2)
    # The first worker's first run is half a part; the half it leaves goes last.
    assert two[0] == (day, day + dt.timedelta(days=3))
    assert two[1:4] == weeks[1:]
    assert two[4] == (day + dt.timedelta(days=4), day + dt.timedelta(days=6))
    three = staggered(weeks, 3)
    assert [(b - a).days + 1 for a, b in three[:3]] == [2, 5, 7]  # a third, two thirds, a whole part
    for order in (two, three, staggered(weeks, 4)):
        days = sorted(a + dt.timedelta(days=i) for a, b in order for i in range((b - a).days + 1))
        assert days == [day + dt.timedelta(days=i) for i in range(28)]
    # One worker, fewer parts than workers, or parts of one day: nothing to stagger.
    assert staggered(weeks, 1) == weeks and staggered(weeks[:1], 2) == weeks[:1]
    single = chunks(day, day + dt.timedelta(days=2), 1)
    assert staggered(single, 2) == single


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "601"])
def test_a_wrong_http_timeout_names_its_variable(raw):
    from ct_ometria.settings import http_timeout

    with pytest.raises(ConfigError, match="CT_OMETRIA_HTTP_TIMEOUT_SECONDS"):
        http_timeout({"CT_OMETRIA_HTTP_TIMEOUT_SECONDS": raw})


def test_the_http_timeout_defaults_to_30_seconds_and_reaches_both_clients():
    from ct_ometria.defs.resources import CommercetoolsResource, OmetriaResource
    from ct_ometria.settings import http_timeout

    assert http_timeout({}) == 30.0 and http_timeout({"CT_OMETRIA_HTTP_TIMEOUT_SECONDS": "2.5"}) == 2.5
    ometria = OmetriaResource(api_key="k" * 20, api_url="http://127.0.0.1:9", timeout_seconds=2.5)
    with ometria.client() as client:
        assert client._http.timeout.read == 2.5
    commercetools = CommercetoolsResource(project_key="p", client_id="c", client_secret="s", auth_url="http://127.0.0.1:9",
                                          api_url="http://127.0.0.1:9", timeout_seconds=2.5)  # fmt: skip
    with commercetools.client() as client:
        assert client._http.timeout.read == 2.5 and client._http.timeout.connect == 2.5


def test_a_process_that_loads_the_code_location_freezes_it_and_collects_young_objects_less_often():
    import subprocess
    import sys

    from ct_ometria.heap import YOUNG_THRESHOLD

    probe = ("import gc; before = gc.get_threshold()[0]; import ct_ometria.definitions; "
             "print(before, gc.get_threshold()[0], gc.get_freeze_count())")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    before, after, frozen = (int(word) for word in done.stdout.split())
    assert before == 700 and after == YOUNG_THRESHOLD > before
    assert frozen > 100_000  # Dagster, pandas, pandera, pydantic and the definitions


@pytest.mark.parametrize("raw", ["0", "0.01", "-0.1", "1.5", "nan", "wide"])
def test_a_wrong_push_rate_margin_names_its_variable(raw):
    from ct_ometria.settings import push_rate_margin

    with pytest.raises(ConfigError, match="OMETRIA_PUSH_RATE_MARGIN"):
        push_rate_margin({"OMETRIA_PUSH_RATE_MARGIN": raw})


def test_the_push_rate_margin_defaults_to_a_tenth_and_reaches_the_shared_bucket(tmp_path, monkeypatch):
    from ct_ometria.defs.resources import OmetriaResource
    from ct_ometria.settings import push_rate_margin

    assert push_rate_margin({}) == 0.10 and push_rate_margin({"OMETRIA_PUSH_RATE_MARGIN": "0.04"}) == 0.04
    monkeypatch.setenv("OMETRIA_PUSH_RATE_MARGIN", "0.04")
    from ct_ometria.definitions import build_resources

    assert build_resources()["ometria"].push_rate_margin == 0.04
    ometria = OmetriaResource(api_key="k" * 20, api_url="http://127.0.0.1:9", push_rate_margin=0.04,
                              shared_rate_url=f"sqlite:///{tmp_path / 'ledger.db'}")  # fmt: skip
    with ometria.client() as client:
        (bucket,) = client.pacer.shared._limiter.bucket_factory.get_buckets()
        assert [(rate.limit, rate.interval) for rate in bucket.rates] == [(8, 1040)]
