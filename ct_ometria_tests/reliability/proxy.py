"""A fault-injecting HTTP proxy for the reliability suite, in front of the emulator or the sandbox.

    python -m ct_ometria_tests.reliability.proxy --upstream http://127.0.0.1:8989 --port 0

Each request whose path starts with one of the chosen prefixes draws from a seeded random stream;
with probability ``rate`` it gets one fault. The kinds take turns in an order shuffled anew for each
round, so every kind comes up once before any comes up twice:

- ``429``: answered 429 with ``Retry-After: 1`` (the upstream never sees it);
- ``500``, ``502``, ``503``: answered with that status;
- ``slow``: forwarded after ``slow_seconds`` (the answer is right, only late);
- ``timeout``: held without an answer for ``hold_seconds`` (longer than the client's read timeout),
  then the connection is closed;
- ``reset``: the connection is reset (RST) before the request is forwarded;
- ``lost``: the request is forwarded, the upstream acts on it, and the connection is reset before the
  answer reaches the client — the case that makes a retry a duplicate.

Requests under ``/__proxy`` are the proxy's own: ``GET /__proxy/stats`` counts what it did,
``POST /__proxy/faults`` ``{"rate": 0}`` changes the rate (the rerun after the faults stop).

Why by hand: the faults must happen at the socket (a reset, a lost answer after the upstream acted),
which an ASGI proxy cannot produce; ``h11`` does the HTTP parsing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import struct
from collections import Counter
from urllib.parse import urlsplit

import h11
import httpx

KINDS = ("429", "500", "502", "503", "slow", "timeout", "reset", "lost")
HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"content-encoding", b"host"}


class FaultProxy:
    def __init__(self, upstream: str, *, rate: float, kinds: list[str], prefixes: list[str], seed: int,
                 slow_seconds: float, hold_seconds: float):  # fmt: skip
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise SystemExit(f"unknown fault kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
        self.upstream = upstream.rstrip("/")
        self.rate = rate
        self.kinds = kinds
        self.prefixes = prefixes
        self.random = random.Random(seed)
        self._turns: list[str] = []
        self.slow_seconds = slow_seconds
        self.hold_seconds = hold_seconds
        self.stats: Counter[str] = Counter()
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(120.0), limits=httpx.Limits(max_keepalive_connections=16))

    def draw(self, path: str) -> str | None:
        if not any(path.startswith(prefix) for prefix in self.prefixes):
            return None
        if self.random.random() >= self.rate:
            return None
        if not self._turns:
            self._turns = self.random.sample(self.kinds, len(self.kinds))
        return self._turns.pop()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = await self._read_request(connection, reader)
                if request is None:
                    return
                keep = await self._answer(connection, writer, request, body)
                if not keep or connection.our_state is h11.MUST_CLOSE:
                    return
                connection.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            return
        finally:
            if not writer.is_closing():
                writer.close()

    async def _read_request(self, connection: h11.Connection, reader: asyncio.StreamReader):
        request, chunks = None, []
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                connection.receive_data(data)
                if not data and request is None:
                    return None, b""
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None, b""
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return request, b"".join(chunks)

    async def _answer(self, connection, writer, request: h11.Request, body: bytes) -> bool:  # noqa: ANN001
        target = request.target.decode("latin-1")
        path = urlsplit(target).path
        if path.startswith("/__proxy/"):
            return await self._control(connection, writer, request.method, path, body)
        self.stats["requests"] += 1
        fault = self.draw(path)
        if fault:
            self.stats[fault] += 1
            self.stats["faults"] += 1
        if fault in ("429", "500", "502", "503"):
            headers = [("Retry-After", "1")] if fault == "429" else []
            await self._send(connection, writer, int(fault), json.dumps({"message": f"injected {fault}"}).encode(), headers)
            return True
        if fault == "reset":
            _reset(writer)
            return False
        if fault == "timeout":
            await asyncio.sleep(self.hold_seconds)
            writer.close()
            return False
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
        headers = [(name, value) for name, value in request.headers if name.lower() not in HOP_BY_HOP]
        response = await self.http.request(request.method.decode(), self.upstream + target,
                                           headers=[(n.decode(), v.decode()) for n, v in headers], content=body)  # fmt: skip
        if fault == "lost":
            _reset(writer)
            return False
        passed = [(name, value) for name, value in response.headers.raw if name.lower() not in HOP_BY_HOP]
        await self._send(connection, writer, response.status_code, response.content, passed)
        return True

    async def _control(self, connection, writer, method: bytes, path: str, body: bytes) -> bool:  # noqa: ANN001
        if method == b"GET" and path == "/__proxy/stats":
            answer = {"rate": self.rate, **self.stats}
        elif method == b"POST" and path == "/__proxy/faults":
            change = json.loads(body or b"{}")
            self.rate = float(change.get("rate", self.rate))
            self.kinds = list(change.get("kinds", self.kinds))
            self._turns = []
            answer = {"rate": self.rate, "kinds": self.kinds}
        else:
            await self._send(connection, writer, 404, b'{"message": "unknown proxy endpoint"}', [])
            return True
        await self._send(connection, writer, 200, json.dumps(answer).encode(), [])
        return True

    @staticmethod
    async def _send(connection: h11.Connection, writer: asyncio.StreamWriter, status: int, content: bytes,
                    headers: list) -> None:  # fmt: skip
        headers = [*headers, ("Content-Length", str(len(content)))]
        if not any(name.lower() in ("content-type", b"content-type") for name, _ in headers):
            headers.append(("Content-Type", "application/json"))
        writer.write(connection.send(h11.Response(status_code=status, headers=headers)))
        writer.write(connection.send(h11.Data(data=content)))
        writer.write(connection.send(h11.EndOfMessage()))
        await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST, not FIN: the client sees a reset connection, not an orderly end."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def serve(proxy: FaultProxy, port: int) -> None:
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    print(f"fault proxy on http://127.0.0.1:{bound} -> {proxy.upstream} pid={os.getpid()}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--prefix", action="append", default=None, help="fault only paths starting with this")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slow-seconds", type=float, default=1.0)
    parser.add_argument("--hold-seconds", type=float, default=3.0)
    args = parser.parse_args()
    proxy = FaultProxy(args.upstream, rate=args.rate, kinds=args.kinds.split(","), prefixes=args.prefix or ["/"],
                       seed=args.seed, slow_seconds=args.slow_seconds, hold_seconds=args.hold_seconds)  # fmt: skip
    try:
        asyncio.run(serve(proxy, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
