"""The load generator's HTTP client: keep-alive HTTP/1.1 connections read by httptools' parser.

The load generator shares the machine's two cores with everything it measures, so its own CPU
per request is taken from the services. Per 3 KB POST (B1's API arm, CPU of this process read
from /proc): httpcore's pool 3.0 ms, httpx over aiohttp's transport 1.5 ms, aiohttp's client on
uvloop 0.84-0.89 ms, this client 0.48-0.51 ms. What it leaves out is what a load generator can:
each request is one write of the request line, Host, Content-Length and the caller's headers
(no Accept, Accept-Encoding or User-Agent for the server to parse), and each response is parsed
in C (httptools, the parser uvicorn uses) with nothing built for it but a `Reply`.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httptools

DEFAULT_TIMEOUT_S = 30.0
# Idle connections are dropped well before the servers' keep-alive timeout (75 s, as
# hypercorn_config.py says why): at an equal timeout a request could take a connection just as
# the server closed it, and fail (B1 saw 3 such failures when both were about 5 s). Long enough
# to outlast the drains between B1's blocks, so no block begins by opening 32 new connections.
KEEPALIVE_S = 60.0


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class _Connection(asyncio.Protocol):
    """One connection, one request at a time; httptools calls back the `on_*` methods."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._reply: asyncio.Future[Reply] | None = None
        self._body: list[bytes] = []
        self.closed = False
        self.idle_since = 0.0

    async def exchange(self, request: bytes) -> Reply:
        self._reply = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._reply

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("the server closed the connection"))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        reply = Reply(self._parser.get_status_code(), b"".join(self._body))
        self._body = []
        if not self._parser.should_keep_alive():
            self.close()
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(reply)

    def _fail(self, exc: Exception) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(exc)


class LoadClient:
    """POST and GET, each read to the end and returned as a `Reply`; at most `max_connections`
    requests in flight (the rest wait for a slot), idle connections reused newest first."""

    def __init__(self, max_connections: int) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def get(
        self, url: str, *, headers: dict[str, str] | None = None, timeout_s: float | None = None
    ) -> Reply:
        return await self._request("GET", url, None, headers or {}, timeout_s)

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Reply:
        headers = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json).encode()
            headers.setdefault("Content-Type", "application/json")
        return await self._request("POST", url, body or b"", headers, timeout_s)

    async def _request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout_s: float | None,
    ) -> Reply:
        parts = urlsplit(url)
        target = f"{parts.path or '/'}{'?' + parts.query if parts.query else ''}"
        lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
        address = (parts.hostname or "localhost", parts.port or 80)
        async with self._slots, asyncio.timeout(timeout_s or DEFAULT_TIMEOUT_S):
            connection = await self._connection(address)
            try:
                reply = await connection.exchange(request)
            except BaseException:  # a timeout or a reset: the connection's state is unknown
                connection.close()
                raise
            if not connection.closed:
                connection.idle_since = asyncio.get_running_loop().time()
                self._idle.setdefault(address, []).append(connection)
            return reply

    async def _connection(self, address: tuple[str, int]) -> _Connection:
        loop = asyncio.get_running_loop()
        idle = self._idle.get(address, [])
        while idle:
            connection = idle.pop()
            if not connection.closed and loop.time() - connection.idle_since < KEEPALIVE_S:
                return connection
            connection.close()
        _, connection = await loop.create_connection(_Connection, *address)
        return connection
