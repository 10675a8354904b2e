"""Real servers for the tests, each on 127.0.0.1 and stopped by its process id."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

READY = re.compile(r"ometria sandbox on (http://127\.0\.0\.1:\d+) pid=(\d+)")


@dataclass
class SandboxProcess:
    process: subprocess.Popen
    base_url: str
    api_key: str
    lines: list[str]

    @property
    def pid(self) -> int:
        return self.process.pid

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
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_sandbox_process(api_key: str, *args: str, timeout: float = 30.0) -> SandboxProcess:
    """``ct-ometria sandbox --port 0`` in its own process; the key travels in the environment only."""
    env = {**os.environ, "SANDBOX_TEST_KEY": api_key}
    process = subprocess.Popen(
        [sys.executable, "-m", "ct_ometria.cli", "sandbox", "--port", "0", "--api-key-env", "SANDBOX_TEST_KEY", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    found: list[re.Match[str]] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = READY.search(line)
            if match and not found:
                found.append(match)
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(timeout)
    if not found:
        process.kill()
        raise RuntimeError("the Ometria sandbox did not start:\n" + "".join(lines[-20:]))
    server = SandboxProcess(process=process, base_url=found[0].group(1), api_key=api_key, lines=lines)
    # The address is printed when the socket is bound; wait until uvicorn answers on it.
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{server.base_url}/__sandbox/stats", timeout=1.0)
            return server
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                server.stop()
                raise RuntimeError("the Ometria sandbox never answered:\n" + "".join(lines[-20:])) from None
            time.sleep(0.02)
