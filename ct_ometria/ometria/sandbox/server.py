"""Run the sandbox with uvicorn: ``serve`` (blocking) and ``running_sandbox`` (background thread, for tests)."""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from contextlib import contextmanager

import httpx
import uvicorn

from .app import create_app
from .config import SandboxConfig

logger = logging.getLogger("ct_ometria.ometria.sandbox")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def _uvicorn_config(config: SandboxConfig, host: str, port: int, log_level: str) -> uvicorn.Config:
    # No access log of headers; uvicorn never logs X-Ometria-Auth values.
    return uvicorn.Config(create_app(config), host=host, port=port, log_level=log_level, lifespan="off")


def serve(
    config: SandboxConfig, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, log_level: str = "info"
) -> None:
    """Serve the sandbox until interrupted. Binds loopback unless the caller passes another host explicitly.

    ``port=0`` picks a free port; the first line printed names the address actually bound (and the
    process id, so whoever started it can stop it), never the API keys."""
    keep_collector_on_new_objects()
    serve_app(create_app(config), "ometria sandbox", host, port, log_level=log_level)


def keep_collector_on_new_objects(interval: float = 1.0, stop: threading.Event | None = None) -> threading.Thread:
    """Every ``interval`` seconds, move what has survived so far out of the garbage collector's reach
    (``gc.freeze``), for the rest of this process.

    A sandbox holds every record it stored. CPython's full collections walk them all, stopping the
    server meanwhile: 0.56 s at a million orders. Pushes arriving in such a pause were counted
    together once it ended, a burst no client sent, and answered 429 (bench/backfill.py at a million
    orders). Frozen, the stored records are left to reference counting, which frees every one a newer
    version replaces; collections then walk only what the last interval made. The young generations
    are collected just before each freeze, so a cycle that is already garbage is not kept; one that
    becomes garbage after its freeze (a closed keep-alive connection, say) is, a slow growth fine for
    a test and benchmark server. For a process that serves the sandbox alone (``ct-ometria
    sandbox``), not for one that embeds it."""

    stop = stop or threading.Event()

    def freeze() -> None:
        while not stop.wait(interval):
            gc.collect(1)
            gc.freeze()

    thread = threading.Thread(target=freeze, name="sandbox gc freeze", daemon=True)
    thread.start()
    return thread


def serve_app(app: Any, name: str, host: str, port: int, *, log_level: str = "info") -> None:
    """Serve an ASGI app until interrupted, announcing ``{name} on http://host:port pid=…``."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("%s is binding a non-loopback address %s", name, host)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    # No access log of headers: uvicorn never logs secret header values.
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=bound_port, log_level=log_level, lifespan="off"))
    url_host = f"[{host}]" if ":" in host else host
    print(f"{name} on http://{url_host}:{bound_port} pid={os.getpid()}", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextmanager
def running_sandbox(
    config: SandboxConfig, port: int = 0, host: str = DEFAULT_HOST, *, startup_timeout: float = 10.0
) -> Iterator[str]:
    """Run the sandbox in a daemon thread on ``host:port`` (0 = a free port); yields the base URL.

    The URL has no ``/v2`` suffix: the Data API is at ``{base_url}/v2``, inspection at ``{base_url}/__sandbox``.
    """
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_uvicorn_config(config, host, bound_port, "warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="ometria-sandbox")
    thread.start()
    url_host = f"[{host}]" if ":" in host else host
    base_url = f"http://{url_host}:{bound_port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if not thread.is_alive():
                raise RuntimeError("ometria sandbox failed to start")
            if server.started:
                try:  # any HTTP answer proves the socket serves requests
                    httpx.get(f"{base_url}/__sandbox/stats", timeout=1.0)
                    break
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("ometria sandbox did not start in time")
            time.sleep(0.02)
        logger.info("ometria sandbox on %s", base_url)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()
