"""What every benchmark shares: the stack, one HTTP client, one Temporal client, the readers.

All of it lives in this one load-generator process, so both arms of a comparison are driven by
the same code on the same event loop.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

import httpx
from httpx_aiohttp import HttpxAiohttpClient
from temporalio.client import Client

from bench import waits
from bench.config import Config
from bench.consumer import EventClock
from bench.essays import Ids, essay_text
from bench.stack import BenchStack
from temporal_client import connect

READY_TIMEOUT_S = 120.0


@dataclass
class Harness:
    cfg: Config
    stack: BenchStack
    http: httpx.AsyncClient
    temporal: Client
    clocks: dict[str, EventClock]  # by arm: ours, baseline, ceiling
    ids: Ids

    def text(self, n: int) -> str:
        return essay_text(n, self.cfg.text_bytes)

    async def post_essay(self, base: str, text: str) -> httpx.Response:
        return await self.http.post(f"{base}/v1/trigger-spellcheck", json={"text": text})

    @contextlib.asynccontextmanager
    async def reading(self, *arms: str):
        """Fetch with the readers of `arms` (the same ones for every arm of a comparison)."""
        for arm in arms:
            self.clocks[arm].resume()
        try:
            yield
        finally:
            for arm in arms:
                self.clocks[arm].pause()


@contextlib.asynccontextmanager
async def harness(cfg: Config, stack: BenchStack):
    """Open the clients and readers, and wait until ours and the baseline each carried an essay
    from POST to event: only then is the worker known to be polling."""
    # Idle connections are dropped well before the servers' keep-alive timeout (Hypercorn's 5 s):
    # at an equal timeout a request could take a connection just as the server closed it, and
    # fail (B1 saw 3 such "ConnectTimeout"s after its 5-6 s drains between blocks).
    limits = httpx.Limits(
        max_connections=cfg.concurrency * 2, max_keepalive_connections=64, keepalive_expiry=2.0
    )
    async with contextlib.AsyncExitStack() as exits:
        # httpx over aiohttp's transport: the load generator shares the machine with the
        # services it measures, so its own CPU per request matters. (The worker and B3's
        # ceiling keep httpx's own pool: see the README's Performance section.)
        http = await exits.enter_async_context(HttpxAiohttpClient(timeout=30, limits=limits))
        temporal = await waits.until(
            lambda: connect(stack.settings()), timeout_s=READY_TIMEOUT_S, what="Temporal"
        )
        clocks = {}
        for arm, topic in stack.topics.items():
            clock = EventClock(stack.bootstrap, topic)
            exits.push_async_callback(clock.stop)
            await clock.start(READY_TIMEOUT_S)
            clocks[arm] = clock
        h = Harness(cfg, stack, http, temporal, clocks, Ids())
        async with h.reading("ours", "baseline"):
            for arm, service in (("ours", "api"), ("baseline", "baseline")):
                await _one_essay_through(h, arm, service)
        yield h


async def _one_essay_through(h: Harness, arm: str, service: str) -> None:
    text = f"ready check {uuid.uuid4().hex}"

    async def accepted() -> str | None:
        h.stack.check_alive()
        response = await h.post_essay(h.stack.url(service), text)
        return response.json()["essay_id"] if response.status_code == 202 else None

    essay_id = await waits.until(accepted, timeout_s=READY_TIMEOUT_S, what=f"{service} to accept")
    await h.clocks[arm].wait_for([essay_id], READY_TIMEOUT_S, f"{service}'s first essay")
