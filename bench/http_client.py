"""The load generator's HTTP client: aiohttp's, used directly.

The load generator shares the machine's two cores with everything it measures, so its own CPU
per request is taken from the services. Per 3 KB POST (B1's API arm, CPU of this process read
from /proc): httpcore's pool 3.0 ms, httpx over aiohttp's transport 1.5 ms, aiohttp alone on
uvloop 0.7-0.9 ms.
"""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from typing import Any

import aiohttp

DEFAULT_TIMEOUT_S = 30.0
# Idle connections are dropped well before the servers' keep-alive timeout (Hypercorn's 5 s):
# at an equal timeout a request could take a connection just as the server closed it, and fail
# (B1 saw 3 such failures after its 5-6 s drains between blocks).
KEEPALIVE_S = 2.0


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class LoadClient:
    """POST and GET, each read to the end and returned as a `Reply`."""

    def __init__(self, max_connections: int) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=KEEPALIVE_S),
            timeout=aiohttp.ClientTimeout(total=DEFAULT_TIMEOUT_S),
        )

    async def close(self) -> None:
        await self._session.close()

    async def get(self, url: str, *, timeout_s: float | None = None) -> Reply:
        return await self._request("GET", url, timeout_s=timeout_s)

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Reply:
        return await self._request(
            "POST", url, json=json, data=body, headers=headers, timeout_s=timeout_s
        )

    async def _request(self, method: str, url: str, *, timeout_s: float | None, **kw) -> Reply:
        if timeout_s is not None:  # else the session's (passing None would mean no limit)
            kw["timeout"] = aiohttp.ClientTimeout(total=timeout_s)
        async with self._session.request(method, url, **kw) as response:
            return Reply(response.status, await response.read())
