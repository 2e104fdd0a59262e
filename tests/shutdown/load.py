"""Essays posted without pause through a stand-in for the load balancer in front of the APIs.

The clients behave as docs/api.md asks of a client: each request carries an Idempotency-Key (a
batch its batch id) and is repeated after a 503, which says "retry later" (the API answers it
when Temporal or a busy worker does not answer in time, as on a loaded machine).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.helpers import wait_until

# A request refused by every API this many times in a row is a failure, not a restart.
MAX_REFUSALS = 20
# A request answered 503 this many times in a row is a failure, not a busy moment.
MAX_UNAVAILABLE = 10


class Balancer:
    """Sends each request to the next registered API, as a load balancer would.

    A refused connection means nothing was sent, so nothing was accepted: the request goes to
    the next API, and is counted in `refused`. Any other transport error is a request lost
    mid-way, recorded in `failures`. `deregister` stops routing to an API and returns once every
    request already routed there has been sent in full, as a load balancer's deregistration
    does before the instance is stopped.
    """

    def __init__(self) -> None:
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._routed: list[str] = []
        self._turn = itertools.count()
        self._unsent: Counter[str] = Counter()  # routed there, body not yet on the wire
        self.awaiting: Counter[str] = Counter()  # sent there, no answer yet
        self.refused = 0
        self.failures: list[str] = []

    def register(self, url: str) -> None:
        self._clients[url] = httpx.AsyncClient(base_url=url, timeout=60)
        self._routed.append(url)

    async def deregister(self, url: str) -> None:
        self._routed.remove(url)

        async def all_sent() -> bool:
            return self._unsent[url] == 0

        await wait_until(all_sent, timeout_s=30, what=f"requests routed to {url} to be sent")

    async def post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        to: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        """POST to the API `to` if given, else the next one; None after a transport failure."""
        for _ in range(MAX_REFUSALS):
            url = to or self._routed[next(self._turn) % len(self._routed)]
            to = None
            try:
                return await self._send(url, path, body, headers or {})
            except httpx.ConnectError:
                self.refused += 1
            except httpx.TransportError as exc:
                self.failures.append(f"POST {path} to {url}: {type(exc).__name__}: {exc}")
                return None
        self.failures.append(f"POST {path}: refused {MAX_REFUSALS} times")
        return None

    async def _send(
        self, url: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> httpx.Response:
        self._unsent[url] += 1
        sent = False

        async def trace(name: str, info: dict[str, Any]) -> None:
            nonlocal sent
            if name == "http11.send_request_body.complete":
                sent = True
                self._unsent[url] -= 1
                self.awaiting[url] += 1

        # An API out of rotation is reached on a new connection, as by a client that still has
        # its address: a pooled keep-alive one may be closing with the server, mid-request.
        fresh = url not in self._routed
        client = httpx.AsyncClient(base_url=url, timeout=60) if fresh else self._clients[url]
        try:
            return await client.post(path, json=body, headers=headers, extensions={"trace": trace})
        finally:
            if fresh:
                await client.aclose()
            if sent:
                self.awaiting[url] -= 1
            else:
                self._unsent[url] -= 1

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


@dataclass
class Accepted:
    essay_id: str
    batch_id: str | None  # None for a single essay


@dataclass
class Load:
    """Clients posting single essays, and one creating and triggering batches, until stopped.

    An essay counts as accepted once its request (for a batch: its trigger too) got a 202.
    """

    balancer: Balancer
    single_clients: int = 2
    batch_size: int = 20
    accepted: list[Accepted] = field(default_factory=list)
    batches: int = 0
    unavailable: int = 0  # 503 answers, each followed by the same request again
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        await asyncio.gather(
            *(self._singles(n) for n in range(self.single_clients)), self._batches()
        )

    def stop(self) -> None:
        self._stop.set()

    async def wait_for_more(self, essays: int, batches: int, what: str) -> None:
        """Until `essays` more essays and `batches` more batches are accepted from now."""
        want_essays, want_batches = len(self.accepted) + essays, self.batches + batches

        async def enough() -> bool:
            if self.balancer.failures:
                raise AssertionError(f"requests failed: {self.balancer.failures}")
            return len(self.accepted) >= want_essays and self.batches >= want_batches

        await wait_until(enough, timeout_s=180, what=what)

    async def _post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        also_after_503: tuple[int, ...] = (),
        to: str | None = None,
    ) -> httpx.Response | None:
        """POST (first to the API `to`, if given), again after each 503; the answer if it is a
        202 (or, once a 503 was repeated, one of `also_after_503`), else None with the failure
        recorded."""
        headers = {"Idempotency-Key": key} if key else {}
        accepted: tuple[int, ...] = (202,)
        for _ in range(MAX_UNAVAILABLE):
            response = await self.balancer.post(path, body, to=to, headers=headers)
            to = None
            if response is None:
                return None
            if response.status_code == 503:
                self.unavailable += 1
                accepted = (202, *also_after_503)
                continue
            if response.status_code in accepted:
                return response
            self.balancer.failures.append(
                f"POST {path}: {response.status_code} {response.text[:200]}"
            )
            return None
        self.balancer.failures.append(f"POST {path}: 503 {MAX_UNAVAILABLE} times")
        return None

    async def post_essay(self, text: str, to: str | None = None) -> bool:
        """Post one single essay (first to the API `to`, if given); True once accepted."""
        key = str(uuid.uuid4())
        response = await self._post("/v1/trigger-spellcheck", {"text": text}, key=key, to=to)
        if response is None:
            return False
        self.accepted.append(Accepted(response.json()["essay_id"], None))
        return True

    async def _singles(self, client: int) -> None:
        for n in itertools.count():
            if self._stop.is_set():
                return
            await self.post_essay(f"rolling restart, client {client}, essay {n}: Helo wrold")

    async def _batches(self) -> None:
        while not self._stop.is_set():
            batch_id = f"rolling-{uuid.uuid4().hex[:8]}"
            essays = [{"text": f"{batch_id} essay {n}"} for n in range(self.batch_size)]
            created = await self._post("/v1/batch", {"batch_id": batch_id, "essays": essays})
            if created is None:
                continue
            # A trigger repeated after a 503 may find the batch triggered by the first attempt.
            path = f"/v1/batch/{batch_id}/spellcheck"
            if await self._post(path, also_after_503=(409,)) is None:
                continue
            self.accepted.extend(Accepted(e, batch_id) for e in created.json()["essay_ids"])
            self.batches += 1
