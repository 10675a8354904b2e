"""The two servers this project runs, the Ometria sandbox and the storefront collector, as processes:
they listen on loopback unless told otherwise, will not start without their key, and refuse every
route to a caller without it, with a wrong one, or with one that merely resembles it."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.routing import Route

from ct_ometria.local.process import LocalServer
from ct_ometria.ometria.sandbox import SandboxConfig
from ct_ometria.ometria.sandbox.app import create_app
from ct_ometria_tests.sandbox.test_sandbox_server import listening_addresses
from ct_ometria_tests.servers import SandboxProcess, start_sandbox_process

COLLECTOR_READY = re.compile(r"ct-ometria collector on (http://127\.0\.0\.1:\d+) pid=(\d+)")


def impostors(key: str) -> dict[str, str | None]:
    """Header values that must not pass for ``key``: none, empty, wrong, a prefix, longer, another case."""
    return {"no key": None, "empty": "", "wrong": "not-the-key-at-all-0000", "prefix": key[:-1], "longer": key + "x",
            "other case": key.swapcase()}  # fmt: skip


def headers_for(header: str, value: str | None) -> dict[str, str]:
    return {} if value is None else {header: value}


def without_env(*names: str) -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in names and not key.startswith("CT_OMETRIA_")}


# ---- the sandbox ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed_sandbox() -> Iterator[SandboxProcess]:
    server = start_sandbox_process("Sandbox-Key-" + secrets.token_hex(8))
    yield server
    server.stop()


def sandbox_routes() -> list[tuple[str, str]]:
    """Every (method, path) the sandbox serves, path parameters filled in."""
    found = []
    for route in create_app(SandboxConfig(api_keys=["k"])).routes:
        assert isinstance(route, Route)
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        found += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return found


def test_the_sandbox_listens_on_loopback_only(keyed_sandbox):
    assert keyed_sandbox.base_url.startswith("http://127.0.0.1:")
    addresses = listening_addresses(keyed_sandbox.pid)
    assert addresses and set(addresses) == {"127.0.0.1"}


@pytest.mark.parametrize(("method", "path"), sandbox_routes())
def test_every_sandbox_route_refuses_a_caller_without_the_key(keyed_sandbox, method, path):
    url = f"{keyed_sandbox.base_url}{path}"
    body = {"content": b"[]", "headers": {"Content-Type": "application/json"}} if method == "POST" else {"headers": {}}
    for name, given in impostors(keyed_sandbox.api_key).items():
        headers = {**body["headers"], **headers_for("X-Ometria-Auth", given)}
        response = httpx.request(method, url, headers=headers, content=body.get("content"), timeout=10)
        assert response.status_code in (401, 403), f"{method} {path} with {name}: {response.status_code}"
        assert keyed_sandbox.api_key not in response.text
    # The key itself gets past authentication (whatever the route then says), so the refusals above are real.
    headers = {**body["headers"], "X-Ometria-Auth": keyed_sandbox.api_key}
    response = httpx.request(method, url, headers=headers, content=body.get("content"), timeout=10)
    assert response.status_code not in (401, 403), f"{method} {path}: {response.status_code} {response.text}"


def test_the_sandbox_will_not_start_without_a_key():
    done = subprocess.run([sys.executable, "-m", "ct_ometria.cli", "sandbox", "--port", "0"],
                          env=without_env("OMETRIA_API_KEY"), capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "OMETRIA_API_KEY is not set" in done.stderr and "Traceback" not in done.stderr


# ---- the collector ----------------------------------------------------------------------------------


@pytest.fixture
def collector_env(tmp_path) -> dict[str, str]:
    return {**without_env(), "CT_OMETRIA_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", "DAGSTER_HOME": str(tmp_path)}


@pytest.fixture
def collector(collector_env) -> Iterator[tuple[LocalServer, str]]:
    secret = "Collector-" + secrets.token_hex(12)
    server = LocalServer([sys.executable, "-m", "ct_ometria.cli", "collector", "--port", "0"], COLLECTOR_READY,
                         env={**collector_env, "CT_OMETRIA_COLLECTOR_SECRET": secret}, timeout=60)  # fmt: skip
    try:
        yield server, secret
    finally:
        server.stop()
    assert secret not in "".join(server.lines)


EVENT = {"event_id": "pv-1", "type": "product_viewed", "occurred_at": "2026-01-05T10:00:00+00:00", "store": "default",
         "email": "ann@example.com", "properties": {"product_id": "shirt"}}  # fmt: skip


def test_the_collector_listens_on_loopback_by_default_and_refuses_callers_without_the_secret(collector):
    server, secret = collector
    url = server.ready.group(1) + "/events"
    for name, given in impostors(secret).items():
        response = post_when_listening(url, json=EVENT, headers=headers_for("X-Collector-Secret", given), timeout=10)
        assert response.status_code == 401, f"{name}: {response.status_code}"
        assert secret not in response.text
    response = httpx.post(url, json=EVENT, headers={"X-Collector-Secret": secret}, timeout=10)
    assert response.status_code == 202, response.text
    assert set(listening_addresses(server.pid)) == {"127.0.0.1"}  # once it answers, it listens
    # The health check needs no secret and tells a stranger nothing about the events themselves.
    health = httpx.get(server.ready.group(1) + "/health", timeout=10)
    assert health.status_code == 200 and "ann@example.com" not in health.text and "pv-1" not in health.text


def post_when_listening(url: str, **kwargs) -> httpx.Response:
    """The ready line is printed once the socket is bound; uvicorn listens a moment later."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.post(url, **kwargs)
        except httpx.ConnectError:
            assert time.monotonic() < deadline, f"nothing listens at {url}"
            time.sleep(0.05)


@pytest.mark.parametrize("secret", [None, "", "short-secret-15"])
def test_the_collector_will_not_start_without_a_secret_of_16_characters(collector_env, secret):
    env = dict(collector_env)
    if secret is not None:
        env["CT_OMETRIA_COLLECTOR_SECRET"] = secret
    done = subprocess.run([sys.executable, "-m", "ct_ometria.cli", "collector", "--port", "0"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "CT_OMETRIA_COLLECTOR_SECRET must be set to a secret of at least 16 characters" in done.stderr
    assert "Traceback" not in done.stderr
    if secret:
        assert secret not in done.stderr + done.stdout
