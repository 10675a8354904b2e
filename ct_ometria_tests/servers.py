"""Servers the tests start as processes: the Ometria sandbox (``ct-ometria sandbox --port 0``) and
dagster-webserver on the project's workspace."""

from __future__ import annotations

import os
import re
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ct_ometria.local.process import LocalServer

READY = re.compile(r"ometria sandbox on (http://127\.0\.0\.1:\d+) pid=(\d+)")


@dataclass
class SandboxProcess:
    server: LocalServer
    base_url: str
    api_key: str

    @property
    def pid(self) -> int:
        return self.server.pid

    @property
    def lines(self) -> list[str]:
        return self.server.lines

    def _headers(self) -> dict[str, str]:
        return {"X-Ometria-Auth": self.api_key}

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.base_url}/__sandbox/{path}", headers=self._headers(), params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Any = None) -> Any:
        response = httpx.post(f"{self.base_url}/__sandbox/{path}", headers=self._headers(), json=body or {}, timeout=30)
        response.raise_for_status()
        return response.json()

    def records(self, record_type: str) -> list[dict[str, Any]]:
        return self.get("records", type=record_type)

    def requests(self) -> list[dict[str, Any]]:
        return self.get("requests")

    def reset(self) -> None:
        self.post("reset")

    def stop(self) -> None:
        self.server.stop()


def start_sandbox_process(api_key: str, *args: str, timeout: float = 30.0) -> SandboxProcess:
    """``ct-ometria sandbox --port 0`` in its own process; the key travels in the environment only."""
    server = LocalServer(
        [sys.executable, "-m", "ct_ometria.cli", "sandbox", "--port", "0", "--api-key-env", "SANDBOX_TEST_KEY", *args],
        READY,
        env={**os.environ, "SANDBOX_TEST_KEY": api_key},
        timeout=timeout,
    )
    sandbox = SandboxProcess(server=server, base_url=server.ready.group(1), api_key=api_key)
    # The address is printed when the socket is bound; wait until uvicorn answers on it.
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{sandbox.base_url}/__sandbox/stats", timeout=1.0)
            return sandbox
        except httpx.TransportError:
            if time.monotonic() > deadline or server.process.poll() is not None:
                server.stop()
                raise RuntimeError("the Ometria sandbox never answered:\n" + "".join(server.lines[-20:])) from None
            time.sleep(0.02)


WEBSERVER_READY = re.compile(r"Serving dagster-webserver on (http://127\.0\.0\.1:\d+)")
ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def running_webserver(env: Mapping[str, str], timeout: float = 120.0) -> Iterator[tuple[str, LocalServer]]:
    """dagster-webserver on ``workspace.yaml`` and the instance of ``env["DAGSTER_HOME"]``, on 127.0.0.1;
    yields its base URL once it answers, and the server (its output is in ``lines``)."""
    webserver = Path(sys.executable).with_name("dagster-webserver")
    with socket.socket() as probe:  # a free port; dagster-webserver prints its address before it listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = LocalServer([str(webserver), "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
                         WEBSERVER_READY, cwd=ROOT, env=env, timeout=timeout)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "dagster-webserver never answered"
            time.sleep(0.2)
        yield base, server
    finally:
        server.stop()
