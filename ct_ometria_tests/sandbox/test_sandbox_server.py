"""The sandbox over a real loopback socket, and the ``serve`` entry point's binding and logging."""

from __future__ import annotations

import inspect
import logging

import httpx
import uvicorn

from ct_ometria.ometria.sandbox import SandboxConfig, running_sandbox, serve

KEY = "socket-test-key-123"


def test_running_sandbox_over_real_socket(valid) -> None:
    config = SandboxConfig(api_keys=[KEY], process_mode="immediate")
    with running_sandbox(config) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        headers = {"X-Ometria-Auth": KEY}
        with httpx.Client(base_url=base_url, headers=headers, timeout=5) as http:
            response = http.post("/v2/push", json=[valid("product"), valid("product", id="sku-2", price="x")])
            assert response.status_code == 202
            assert response.json()["accepted"] == 2
            assert response.headers["x-queuesize-limit"] == "50000"
            assert http.get("/v2/products/sku-1").json() == valid("product")
            assert [e["error_path"] for e in http.get("/v2/push/_errors").json()] == ["root > price"]
            assert http.post("/v2/push", json=[valid("product")], headers={"X-Ometria-Auth": "x"}).status_code == 403
    # Stopped on exit.
    try:
        httpx.get(f"{base_url}/__sandbox/stats", timeout=0.5)
        raise AssertionError("sandbox still answering after exit")
    except httpx.TransportError:
        pass


def test_serve_defaults_to_loopback_and_never_logs_the_key(monkeypatch, caplog) -> None:
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(running_sandbox).parameters["host"].default == "127.0.0.1"
    seen = {}

    def fake_run(self, sockets=None):  # noqa: ANN001
        seen["host"], seen["port"] = self.config.host, self.config.port

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    config = SandboxConfig(api_keys=[KEY])
    with caplog.at_level(logging.INFO, logger="ct_ometria.ometria.sandbox"):
        serve(config, port=18080)
    assert seen == {"host": "127.0.0.1", "port": 18080}
    assert "ometria sandbox on http://127.0.0.1:18080" in caplog.text
    assert KEY not in caplog.text
    assert KEY not in repr(config) and KEY not in str(config)
