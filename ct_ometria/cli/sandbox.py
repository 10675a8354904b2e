"""``ct-ometria sandbox``: the strict local Ometria Data API v2, on 127.0.0.1 by default."""

from __future__ import annotations

from ct_ometria.errors import ConfigError
from ct_ometria.ometria.sandbox import SandboxConfig, serve
from ct_ometria.settings import env_value


def sandbox_command(host: str, port: int, api_key_env: str, latency_ms: int = 0) -> int:
    api_key = env_value(api_key_env)
    if not api_key:
        raise ConfigError(f"{api_key_env} is not set: the sandbox needs the API key its clients must send")
    serve(SandboxConfig(api_keys=[api_key], latency_seconds=latency_ms / 1000), host=host, port=port)
    return 0
