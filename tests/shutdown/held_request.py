"""A request the API has certainly begun, held in flight for as long as a test needs.

The client sends `Expect: 100-continue` and waits for `100 Continue`, which Hypercorn sends only
after it has parsed the headers and handed the request to the app. From then on the request is
in flight; its body follows when the test says so. Written with h11 (the HTTP/1.1 library under
Hypercorn and httpx) because httpx neither waits for 100 Continue nor lets a body pause.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11

from tests.conftest import HOST


class HeldRequest:
    def __init__(self, port: int, path: str, body: dict[str, Any]) -> None:
        self.port = port
        self.path = path
        self.body = json.dumps(body).encode()
        self._connection = h11.Connection(h11.CLIENT)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def begin(self) -> None:
        """Send the headers; return once the API has read them (100 Continue)."""
        self._reader, self._writer = await asyncio.open_connection(HOST, self.port)
        await self._send(
            h11.Request(
                method="POST",
                target=self.path,
                headers=[
                    ("Host", f"{HOST}:{self.port}"),
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(self.body))),
                    ("Expect", "100-continue"),
                ],
            )
        )
        event = await self._next_event()
        assert isinstance(event, h11.InformationalResponse), event
        assert event.status_code == 100, event

    async def finish(self) -> tuple[int, dict[str, Any]]:
        """Send the body; the answer's status and JSON body."""
        assert self._writer is not None, "begin() first"
        await self._send(h11.Data(data=self.body))
        await self._send(h11.EndOfMessage())
        status, content = 0, b""
        while not isinstance(event := await self._next_event(), h11.EndOfMessage):
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                content += event.data
        self._writer.close()
        return status, json.loads(content)

    async def _send(self, event: h11.Event) -> None:
        assert self._writer is not None
        data = self._connection.send(event)
        if data:
            self._writer.write(data)
            await self._writer.drain()

    async def _next_event(self) -> h11.Event:
        assert self._reader is not None
        while (event := self._connection.next_event()) is h11.NEED_DATA:
            # b"" at end of stream: h11 then reports the closed connection (or raises).
            self._connection.receive_data(await self._reader.read(65536))
        assert not isinstance(event, h11.ConnectionClosed), "the API closed the connection"
        return event
