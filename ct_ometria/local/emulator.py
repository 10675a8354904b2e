"""Start and stop the commercetools emulator (``emulator/server.mjs``) on 127.0.0.1.

The emulator is ``@labdigital/commercetools-mock``, pinned by ``emulator/package-lock.json`` and
installed with ``npm ci``. It speaks the commercetools HTTP API, including OAuth, and adds control
endpoints under ``/__emulator`` for seeding back-dated records and injecting faults.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ct_ometria.errors import ConfigError
from ct_ometria.local.process import LocalServer

EMULATOR_DIR = Path(__file__).resolve().parents[2] / "emulator"
PROJECT_KEY = "test-project"
_READY = re.compile(r"on http://127\.0\.0\.1:(\d+)/")


@dataclass
class Emulator:
    server: LocalServer
    base_url: str
    project_key: str = PROJECT_KEY

    @property
    def pid(self) -> int:
        return self.server.pid

    def env(self) -> dict[str, str]:
        """``CTP_*`` variables pointing at this emulator."""
        return {
            "CTP_PROJECT_KEY": self.project_key,
            "CTP_CLIENT_ID": "emulator-client",
            "CTP_CLIENT_SECRET": "emulator-secret",
            "CTP_AUTH_URL": self.base_url,
            "CTP_API_URL": self.base_url,
            "CTP_SCOPES": f"manage_project:{self.project_key}",
        }

    def _post(self, path: str, body: Any = None) -> dict[str, Any]:
        response = httpx.post(f"{self.base_url}/__emulator/{path}", json=body if body is not None else {}, timeout=30)
        response.raise_for_status()
        return response.json()

    def seed(self, **resources: list[dict[str, Any]]) -> int:
        """Store documents verbatim (``customer=[...]``, ``order=[...]``): back-dated, versioned."""
        return self._post("seed", resources)["stored"]

    def clear(self) -> None:
        self._post("clear")

    def revoke_tokens(self) -> int:
        return self._post("revoke-tokens")["revoked"]

    def fault(
        self,
        path: str,
        status: int = 503,
        times: int = 1,
        retry_after: str | None = None,
        drop: bool = False,
        code: str | None = None,
    ) -> None:
        """The next ``times`` requests whose path contains ``path`` get ``status`` (or a dropped connection)."""
        body: dict[str, Any] = {"path": path, "status": status, "times": times, "drop": drop}
        if code is not None:
            body["code"] = code
        if retry_after is not None:
            body["retryAfter"] = retry_after
        self._post("faults", body)

    def stop(self) -> None:
        self.server.stop()


def start_emulator(port: int = 0, auth: bool = True, directory: Path = EMULATOR_DIR, timeout: float = 30.0) -> Emulator:
    """Start ``node server.mjs`` on 127.0.0.1 and wait for its ready line."""
    if not (directory / "node_modules" / "@labdigital" / "commercetools-mock").exists():
        raise ConfigError(f"the commercetools emulator is not installed: run `npm ci` in {directory}")
    env = {**os.environ, "CT_MOCK_PORT": str(port), "CT_MOCK_AUTH": "1" if auth else "0", "CT_MOCK_PROJECT": PROJECT_KEY}
    server = LocalServer(["node", "server.mjs"], _READY, cwd=directory, env=env, timeout=timeout)
    return Emulator(server=server, base_url=f"http://127.0.0.1:{server.ready.group(1)}")
