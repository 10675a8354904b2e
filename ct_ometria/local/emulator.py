"""Start and stop the commercetools emulator (``emulator/server.mjs``) on 127.0.0.1.

The emulator is ``@labdigital/commercetools-mock``, pinned by ``emulator/package-lock.json`` and
installed with ``npm ci``. It speaks the commercetools HTTP API, including OAuth, and adds control
endpoints under ``/__emulator`` for seeding back-dated records and injecting faults.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
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
    _access_token: str | None = field(default=None, repr=False)

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

    def expire_messages(self, before: str) -> int:
        """Delete messages created before ``before`` (ISO 8601), as the project's retention would."""
        return self._post("messages/expire", {"before": before})["expired"]

    def message_delivery(self, duplicate: bool = False, reverse: bool = False) -> None:
        """Answer later message queries with each message twice and/or in reverse order."""
        self._post("messages/delivery", {"duplicate": duplicate, "reverse": reverse})

    # ---- writes through the real API (tests and the demo change the store as a shop would) ----
    def _token(self) -> str:
        if self._access_token is None:
            env = self.env()
            response = httpx.post(
                f"{self.base_url}/oauth/token", data={"grant_type": "client_credentials", "scope": env["CTP_SCOPES"]},
                auth=(env["CTP_CLIENT_ID"], env["CTP_CLIENT_SECRET"]), timeout=30,
            )  # fmt: skip
            response.raise_for_status()
            self._access_token = response.json()["access_token"]
        return self._access_token

    def api(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One call to ``/{projectKey}{path}``; raises on an error status, naming it."""
        for _ in range(2):
            response = httpx.request(
                method, f"{self.base_url}/{self.project_key}{path}", json=body, params=params,
                headers={"Authorization": f"Bearer {self._token()}"}, timeout=30,
            )  # fmt: skip
            if response.status_code != 401:
                break
            self._access_token = None  # revoked by a test: take a new one
        if response.status_code >= 300:
            raise RuntimeError(f"emulator {method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json()

    def create(self, resource: str, draft: dict[str, Any]) -> dict[str, Any]:
        created = self.api("POST", f"/{resource}", draft)
        return created.get("customer", created) if resource == "customers" else created

    def update(self, resource: str, resource_id: str, *actions: dict[str, Any]) -> dict[str, Any]:
        """Apply ``actions`` to the resource's current version."""
        version = self.api("GET", f"/{resource}/{resource_id}")["version"]
        return self.api("POST", f"/{resource}/{resource_id}", {"version": version, "actions": list(actions)})

    def delete(self, resource: str, resource_id: str) -> dict[str, Any]:
        version = self.api("GET", f"/{resource}/{resource_id}")["version"]
        return self.api("DELETE", f"/{resource}/{resource_id}", params={"version": version})

    def messages(self) -> list[dict[str, Any]]:
        return self.api("GET", "/messages", params={"limit": 500, "sort": "createdAt asc"})["results"]

    def stop(self) -> None:
        self.server.stop()


def start_emulator(port: int = 0, auth: bool = True, directory: Path = EMULATOR_DIR, timeout: float = 30.0) -> Emulator:
    """Start ``node server.mjs`` on 127.0.0.1 and wait for its ready line."""
    if not (directory / "node_modules" / "@labdigital" / "commercetools-mock").exists():
        raise ConfigError(f"the commercetools emulator is not installed: run `npm ci` in {directory}")
    env = {**os.environ, "CT_MOCK_PORT": str(port), "CT_MOCK_AUTH": "1" if auth else "0", "CT_MOCK_PROJECT": PROJECT_KEY}
    server = LocalServer(["node", "server.mjs"], _READY, cwd=directory, env=env, timeout=timeout)
    return Emulator(server=server, base_url=f"http://127.0.0.1:{server.ready.group(1)}")
