"""``ct-ometria collector``: the storefront event collector, on 127.0.0.1 by default."""

from __future__ import annotations

from ct_ometria.config import load_mapping_config
from ct_ometria.events.collector import create_collector
from ct_ometria.ledger.events import EventStore
from ct_ometria.ledger.store import Ledger
from ct_ometria.ometria.sandbox.server import serve_app
from ct_ometria.settings import collector_from_env, database_schema, database_url, mapping_config_path


def collector_command(host: str | None, port: int | None) -> int:
    settings = collector_from_env()
    config = load_mapping_config(mapping_config_path())
    store = EventStore(Ledger(database_url(), database_schema()))
    app = create_collector(settings.secret.get_secret_value(), store, config)
    serve_app(app, "ct-ometria collector", host or settings.host, settings.port if port is None else port)
    return 0
