"""The one place that reads the environment.

commercetools is configured through its standard ``CTP_*`` variables, Ometria through ``OMETRIA_*``,
the sync state database through ``CT_OMETRIA_DATABASE_URL`` and the mapping config through
``CT_OMETRIA_CONFIG``. Secrets are kept as ``SecretStr`` so they never print.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ct_ometria.errors import ConfigError

DEFAULT_OMETRIA_API_URL = "https://api.ometria.com"
# Ometria's default push limit per account; it can be raised on request.
DEFAULT_PUSH_RATE = 8.0
# The shared bucket admits the account's rate in any window of (1 + margin) seconds: requests from
# several processes arrive with more jitter than one process's spacing (ct_ometria.ometria.shared_rate).
DEFAULT_PUSH_RATE_MARGIN = 0.10

CTP_VARIABLES = ("CTP_PROJECT_KEY", "CTP_CLIENT_ID", "CTP_CLIENT_SECRET", "CTP_AUTH_URL", "CTP_API_URL")
OMETRIA_VARIABLES = ("OMETRIA_API_KEY",)
SECRET_VARIABLES = ("CTP_CLIENT_SECRET", "OMETRIA_API_KEY")


def check_url(variable: str, value: str) -> str:
    """Return ``value`` without a trailing slash, or raise naming ``variable``."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # The value is not echoed: a secret pasted into the wrong variable must not reach a log.
        raise ConfigError(f"{variable} must be an http(s) URL such as https://host")
    return value.strip().rstrip("/")


def check_present(variable: str, value: str | None) -> str:
    if value is None or not value.strip():
        raise ConfigError(f"{variable} is not set; see the README section 'Configuration'")
    return value.strip()


class CommercetoolsSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    project_key: str
    client_id: str
    client_secret: SecretStr
    auth_url: str
    api_url: str
    scopes: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        project_key: str | None,
        client_id: str | None,
        client_secret: str | None,
        auth_url: str | None,
        api_url: str | None,
        scopes: str | None = None,
    ) -> CommercetoolsSettings:
        """Validate raw values, naming the environment variable of whatever is wrong."""
        return cls(
            project_key=check_present("CTP_PROJECT_KEY", project_key),
            client_id=check_present("CTP_CLIENT_ID", client_id),
            client_secret=SecretStr(check_present("CTP_CLIENT_SECRET", client_secret)),
            auth_url=check_url("CTP_AUTH_URL", check_present("CTP_AUTH_URL", auth_url)),
            api_url=check_url("CTP_API_URL", check_present("CTP_API_URL", api_url)),
            scopes=tuple((scopes or "").split()),
        )


class OmetriaSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    api_key: SecretStr
    api_url: str = DEFAULT_OMETRIA_API_URL
    push_rate_per_second: float = DEFAULT_PUSH_RATE

    @classmethod
    def build(
        cls, *, api_key: str | None, api_url: str | None, push_rate_per_second: float = DEFAULT_PUSH_RATE
    ) -> OmetriaSettings:
        return cls(
            api_key=SecretStr(check_present("OMETRIA_API_KEY", api_key)),
            api_url=check_url("OMETRIA_API_URL", api_url or DEFAULT_OMETRIA_API_URL),
            push_rate_per_second=check_rate(push_rate_per_second),
        )


def environ(env: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return os.environ if env is None else env


def env_value(name: str, default: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    value = environ(env).get(name)
    return value if value not in (None, "") else default


def commercetools_from_env(env: Mapping[str, str] | None = None) -> CommercetoolsSettings:
    return CommercetoolsSettings.build(
        project_key=env_value("CTP_PROJECT_KEY", env=env),
        client_id=env_value("CTP_CLIENT_ID", env=env),
        client_secret=env_value("CTP_CLIENT_SECRET", env=env),
        auth_url=env_value("CTP_AUTH_URL", env=env),
        api_url=env_value("CTP_API_URL", env=env),
        scopes=env_value("CTP_SCOPES", env=env),
    )


def _number_from_env(name: str, default: float, check: Callable[..., float], env: Mapping[str, str] | None) -> float:
    """``name``'s value as a number that ``check`` accepts; ``default`` when unset. Text that is not a
    number goes to ``check`` as NaN, which every check refuses, naming the variable and the text."""
    raw = env_value(name, env=env)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    return check(value, shown=repr(raw))


def push_rate(env: Mapping[str, str] | None = None) -> float:
    """OMETRIA_PUSH_RATE_PER_SECOND: the account's push limit (8 unless Ometria raised it)."""
    return _number_from_env("OMETRIA_PUSH_RATE_PER_SECOND", DEFAULT_PUSH_RATE, check_rate, env)


def check_rate(rate: float, shown: str | None = None) -> float:
    if not rate > 0:
        raise ConfigError(f"OMETRIA_PUSH_RATE_PER_SECOND must be a positive number, got {shown or rate}")
    return rate


def push_rate_margin(env: Mapping[str, str] | None = None) -> float:
    """OMETRIA_PUSH_RATE_MARGIN: how much longer than a second the shared bucket's window is (default 0.10:
    8 requests in any 1.1 s). Smaller is faster and leaves less room for arrival jitter between processes."""
    return _number_from_env("OMETRIA_PUSH_RATE_MARGIN", DEFAULT_PUSH_RATE_MARGIN, check_margin, env)


def check_margin(margin: float, shown: str | None = None) -> float:
    if not 0.02 <= margin <= 1:
        raise ConfigError(f"OMETRIA_PUSH_RATE_MARGIN must be a number in [0.02, 1], got {shown or margin}")
    return margin


def ometria_from_env(env: Mapping[str, str] | None = None) -> OmetriaSettings:
    return OmetriaSettings.build(
        api_key=env_value("OMETRIA_API_KEY", env=env),
        api_url=env_value("OMETRIA_API_URL", DEFAULT_OMETRIA_API_URL, env=env),
        push_rate_per_second=push_rate(env),
    )


DEFAULT_HTTP_TIMEOUT = 30.0


def http_timeout(env: Mapping[str, str] | None = None) -> float:
    """CT_OMETRIA_HTTP_TIMEOUT_SECONDS: how long a call to commercetools or Ometria may wait for an answer
    before it counts as a transient failure and is retried (default 30)."""
    raw = env_value("CT_OMETRIA_HTTP_TIMEOUT_SECONDS", env=env)
    if raw is None:
        return DEFAULT_HTTP_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 600:
        raise ConfigError(f"CT_OMETRIA_HTTP_TIMEOUT_SECONDS must be a number of seconds in (0, 600], got {raw!r}")
    return seconds


def database_url(env: Mapping[str, str] | None = None) -> str:
    """CT_OMETRIA_DATABASE_URL, else an SQLite file beside DAGSTER_HOME (or the working folder)."""
    explicit = env_value("CT_OMETRIA_DATABASE_URL", env=env)
    if explicit:
        return explicit
    home = env_value("DAGSTER_HOME", env=env) or os.getcwd()
    return f"sqlite:///{os.path.join(home, 'ct_ometria_state.db')}"


def data_dir(env: Mapping[str, str] | None = None) -> str:
    """Where asset values (Parquet per partition) are written: CT_OMETRIA_DATA_DIR, else beside DAGSTER_HOME."""
    explicit = env_value("CT_OMETRIA_DATA_DIR", env=env)
    if explicit:
        return explicit
    home = env_value("DAGSTER_HOME", env=env) or os.getcwd()
    return os.path.join(home, "ct_ometria_data")


def database_schema(env: Mapping[str, str] | None = None) -> str:
    """CT_OMETRIA_DATABASE_SCHEMA: the PostgreSQL schema of the ledger's tables (default ct_ometria)."""
    return env_value("CT_OMETRIA_DATABASE_SCHEMA", "ct_ometria", env=env) or "ct_ometria"


def mapping_config_path(env: Mapping[str, str] | None = None) -> str | None:
    return env_value("CT_OMETRIA_CONFIG", env=env)


def missing_variables(env: Mapping[str, str] | None = None) -> list[str]:
    """The required variables that are unset, for a clear message before a run starts."""
    return [name for name in (*CTP_VARIABLES, *OMETRIA_VARIABLES) if not env_value(name, env=env)]


DEFAULT_EVENTS_INTERVAL = 30


def events_interval(env: Mapping[str, str] | None = None) -> int:
    """CT_OMETRIA_EVENTS_INTERVAL_SECONDS: how often the event sensors poll (default 30)."""
    raw = env_value("CT_OMETRIA_EVENTS_INTERVAL_SECONDS", env=env)
    if raw is None or not raw.strip():
        return DEFAULT_EVENTS_INTERVAL
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"CT_OMETRIA_EVENTS_INTERVAL_SECONDS must be a whole number of seconds, got {raw!r}") from None
    if value < 1:
        raise ConfigError(f"CT_OMETRIA_EVENTS_INTERVAL_SECONDS must be at least 1, got {value}")
    return value


class CollectorSettings(BaseModel):
    """The storefront collector: where it listens and the shared secret its callers send."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    secret: SecretStr


def collector_from_env(env: Mapping[str, str] | None = None) -> CollectorSettings:
    secret = env_value("CT_OMETRIA_COLLECTOR_SECRET", env=env)
    if not secret or len(secret) < 16:
        raise ConfigError("CT_OMETRIA_COLLECTOR_SECRET must be set to a secret of at least 16 characters")
    raw_port = env_value("CT_OMETRIA_COLLECTOR_PORT", "8787", env=env) or "8787"
    try:
        port = int(raw_port)
    except ValueError:
        raise ConfigError(f"CT_OMETRIA_COLLECTOR_PORT must be a port number, got {raw_port!r}") from None
    return CollectorSettings(host=env_value("CT_OMETRIA_COLLECTOR_HOST", "127.0.0.1", env=env) or "127.0.0.1",
                             port=port, secret=SecretStr(secret))  # fmt: skip
