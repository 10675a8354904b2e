"""Dagster resources. Secrets arrive through ``EnvVar`` (see ``ct_ometria.definitions``), are
validated when a run starts, and are never put into metadata or messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from dagster import ConfigurableResource, InitResourceContext

from ct_ometria.commercetools.client import CommercetoolsClient
from ct_ometria.config import MappingConfig, load_mapping_config
from ct_ometria.errors import ConfigError
from ct_ometria.ometria.client import OmetriaClient
from ct_ometria.ledger.store import POSTGRES_SCHEMA, Ledger
from ct_ometria.ometria.client import REST_RATE_PER_SECOND
from ct_ometria.ometria.pacer import Pacer
from ct_ometria.ometria.shared_rate import shared_rate
from ct_ometria.settings import (
    DEFAULT_HTTP_TIMEOUT,
    DEFAULT_OMETRIA_API_URL,
    DEFAULT_PUSH_RATE,
    DEFAULT_PUSH_RATE_MARGIN,
    CommercetoolsSettings,
    OmetriaSettings,
    check_margin,
)


def client_timeout(seconds: float) -> httpx.Timeout:
    """The read timeout as given; connecting never waits longer than 10 s."""
    if not 0 < seconds <= 600:
        raise ConfigError(f"timeout_seconds must be in (0, 600], got {seconds}")
    return httpx.Timeout(seconds, connect=min(10.0, seconds))


class CommercetoolsResource(ConfigurableResource):
    """commercetools API client credentials (``CTP_*`` variables)."""

    project_key: str
    client_id: str
    client_secret: str
    auth_url: str
    api_url: str
    scopes: str = ""
    # Seconds to wait for an answer before the call counts as a transient failure (CT_OMETRIA_HTTP_TIMEOUT_SECONDS).
    timeout_seconds: float = DEFAULT_HTTP_TIMEOUT

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.settings()  # a missing or wrong setting fails the run before any step, naming the variable

    def settings(self) -> CommercetoolsSettings:
        return CommercetoolsSettings.build(
            project_key=self.project_key,
            client_id=self.client_id,
            client_secret=self.client_secret,
            auth_url=self.auth_url,
            api_url=self.api_url,
            scopes=self.scopes,
        )

    @contextmanager
    def client(self) -> Iterator[CommercetoolsClient]:
        with CommercetoolsClient(self.settings(), timeout=client_timeout(self.timeout_seconds)) as client:
            yield client


class OmetriaResource(ConfigurableResource):
    """Ometria Data API key and base URL (``OMETRIA_API_KEY``, ``OMETRIA_API_URL``)."""

    api_key: str
    api_url: str = DEFAULT_OMETRIA_API_URL
    push_rate_per_second: float = DEFAULT_PUSH_RATE
    # The database whose bucket every process pushing to this account shares (the ledger's):
    # PostgreSQL or an SQLite file. None: this process paces itself alone.
    shared_rate_url: str | None = None
    # On PostgreSQL, the schema of the bucket's table (the ledger's).
    shared_rate_schema: str = POSTGRES_SCHEMA
    # The shared push bucket admits the rate in any (1 + margin) seconds (OMETRIA_PUSH_RATE_MARGIN).
    push_rate_margin: float = DEFAULT_PUSH_RATE_MARGIN
    # Seconds to wait for an answer before the call counts as a transient failure (CT_OMETRIA_HTTP_TIMEOUT_SECONDS).
    timeout_seconds: float = DEFAULT_HTTP_TIMEOUT

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.settings()
        check_margin(self.push_rate_margin)

    def settings(self) -> OmetriaSettings:
        return OmetriaSettings.build(
            api_key=self.api_key, api_url=self.api_url, push_rate_per_second=self.push_rate_per_second
        )

    @contextmanager
    def client(self) -> Iterator[OmetriaClient]:
        settings = self.settings()
        gates = []
        try:
            if self.shared_rate_url:
                # Pushes (8 per second) and REST reads (4 per second) are counted per account.
                gates.append(shared_rate(self.shared_rate_url, settings.push_rate_per_second, "ometria_push",
                                         self.shared_rate_schema, margin=self.push_rate_margin))
                gates.append(shared_rate(self.shared_rate_url, REST_RATE_PER_SECOND, "ometria_rest", self.shared_rate_schema))
            pacer = Pacer(settings.push_rate_per_second, shared=gates[0] if gates else None)
            read_pacer = Pacer(REST_RATE_PER_SECOND, shared=gates[1] if gates else None)
            with OmetriaClient(settings, pacer=pacer, read_pacer=read_pacer,
                               timeout=client_timeout(self.timeout_seconds)) as client:  # fmt: skip
                yield client
        finally:
            for gate in gates:
                gate.close()


class MappingConfigResource(ConfigurableResource):
    """The mapping config file (``CT_OMETRIA_CONFIG``); the built-in defaults when unset."""

    path: str | None = None

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.load()

    def load(self) -> MappingConfig:
        return load_mapping_config(self.path)


class LedgerResource(ConfigurableResource):
    """The sync ledger's database (``CT_OMETRIA_DATABASE_URL``); created and migrated on first use."""

    url: str
    # PostgreSQL schema of the ledger's tables (beside Dagster's on the same server).
    db_schema: str = POSTGRES_SCHEMA

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.open()

    def open(self) -> Ledger:
        return Ledger(self.url, self.db_schema)
