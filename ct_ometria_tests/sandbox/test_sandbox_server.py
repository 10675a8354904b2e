"""The sandbox over a real loopback socket, and the ``serve`` entry point's binding and logging."""

from __future__ import annotations

import inspect
import os
import time

import httpx

from ct_ometria.ometria.sandbox import SandboxConfig, running_sandbox, serve
from ct_ometria_tests.servers import start_sandbox_process

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


def test_serve_binds_loopback_by_default_and_never_prints_the_key() -> None:
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(running_sandbox).parameters["host"].default == "127.0.0.1"
    server = start_sandbox_process(KEY)
    try:
        assert server.base_url.startswith("http://127.0.0.1:")
        response = httpx.post(
            f"{server.base_url}/v2/push",
            headers={"X-Ometria-Auth": KEY, "Content-Type": "application/json"},
            content=b'[{"@type":"contact","id":"c1","email":"a@example.com"}]',
        )
        assert response.status_code == 202
        listening = listening_addresses(server.pid)
        assert listening and all(address == "127.0.0.1" for address in listening)
    finally:
        server.stop()
    assert server.server.process.returncode is not None
    assert KEY not in "".join(server.lines)
    config = SandboxConfig(api_keys=[KEY])
    assert KEY not in repr(config) and KEY not in str(config)


def listening_addresses(pid: int) -> list[str]:
    """The IPv4 addresses ``pid`` listens on, read from /proc (no extra dependency)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:  # a descriptor closed while we looked
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addresses = []
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A = LISTEN
                hex_ip = local.split(":")[0]
                addresses.append(".".join(str(int(hex_ip[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return addresses


def test_a_sandbox_process_keeps_the_collector_off_what_it_has_stored() -> None:
    # Full collections walked every stored record, pausing the server (0.56 s at a million orders):
    # pushes arriving meanwhile were then counted as one burst and answered 429.
    import gc
    import threading

    from ct_ometria.ometria.sandbox.server import keep_collector_on_new_objects

    def collected(record: object) -> bool:  # within the collector's reach (frozen objects are not)
        return any(candidate is record for candidate in gc.get_objects())

    stored = [{"id": f"r-{i}", "lines": [{"n": i}]} for i in range(1_000)]
    assert collected(stored[0]) and collected(stored[-1])
    stop = threading.Event()
    thread = keep_collector_on_new_objects(0.05, stop)
    try:
        deadline = time.monotonic() + 5
        while collected(stored[-1]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not collected(stored[0]) and not collected(stored[-1])
    finally:
        stop.set()
        thread.join(5)
        gc.unfreeze()
    assert not thread.is_alive()
