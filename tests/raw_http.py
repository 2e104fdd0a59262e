"""A bare HTTP/1.1 client for requests an ordinary client refuses or tidies up on the way out.

httpx normalises `..` segments, re-encodes paths and insists on valid header values; bad-input
tests need to send exactly the bytes they mean, so this writes the request itself and parses
the answer with h11 (the HTTP/1.1 library Hypercorn uses).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import h11

READ_CHUNK = 65536


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)


async def send(
    host: str,
    port: int,
    method: str,
    target: bytes | str,
    *,
    headers: list[tuple[str, bytes | str]] | None = None,
    body: bytes = b"",
    timeout_s: float = 30,
) -> RawResponse:
    """One request on a fresh connection, exactly as given; the answer once it is complete."""
    target = target.encode("latin-1") if isinstance(target, str) else target
    request_headers = [("Host", f"{host}:{port}"), ("Connection", "close")]
    request_headers += headers or []
    framed = any(
        name.lower() in ("content-length", "transfer-encoding") for name, _ in headers or []
    )
    if not framed and (body or method in ("POST", "PUT", "PATCH")):
        request_headers.append(("Content-Length", str(len(body))))
    head = b"%s %s HTTP/1.1\r\n" % (method.encode(), target)
    for name, value in request_headers:
        value = value.encode("latin-1") if isinstance(value, str) else value
        head += b"%s: %s\r\n" % (name.encode(), value)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head + b"\r\n" + body)
        await writer.drain()
        return await asyncio.wait_for(_read_response(reader, method), timeout_s)
    finally:
        writer.close()
        await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader, method: str) -> RawResponse:
    connection = h11.Connection(h11.CLIENT)
    # Tell h11 which request the answer belongs to (it was written by hand above); the method
    # matters: the answer to a HEAD has no body.
    connection.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    connection.send(h11.EndOfMessage())
    status, headers, body = 0, {}, b""
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(READ_CHUNK))
        elif isinstance(event, h11.Response):
            status = event.status_code
            headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return RawResponse(status, headers, bytes(body))
