"""What every benchmark shares: the stack, one HTTP client, one Temporal client, the readers.

All of it lives in this one load-generator process, so both arms of a comparison are driven by
the same code on the same event loop.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass

from temporalio.client import Client

from bench import procfs, waits
from bench.config import Config
from bench.consumer import EventClock
from bench.essays import Ids, essay_text
from bench.http_client import LoadClient, Reply
from bench.stack import BenchStack
from temporal_client import connect

READY_TIMEOUT_S = 120.0
LOAD_GENERATOR = "load generator"
QUIET_WINDOW_S = 0.5
QUIET_SHARE = 0.1
QUIET_TIMEOUT_S = 60.0


@dataclass
class Harness:
    cfg: Config
    stack: BenchStack
    http: LoadClient
    temporal: Client
    clocks: dict[str, EventClock]  # by topic: ours, baseline, outbox, ceiling
    ids: Ids
    exits: contextlib.AsyncExitStack

    def text(self, n: int) -> str:
        return essay_text(n, self.cfg.text_bytes)

    def cpu(self) -> dict[str, float]:
        """CPU ms used so far by each process of the stack, and by this load generator (with
        its status probes)."""
        pids = self.stack.pids()
        used = {name: procfs.cpu_ms(pid) for name, pid in pids.items()}
        # The stack's processes are this one's children: only the rest (the probes) are ours.
        used[LOAD_GENERATOR] = procfs.cpu_ms(os.getpid(), frozenset(pids.values()))
        return used

    async def fresh_worker_topic(self, name: str) -> None:
        """Restart the worker on a topic of its own (`BenchStack.restart_worker`) and read
        "ours" there from now on."""
        topic = await self.stack.restart_worker(name)
        clock = EventClock(self.stack.bootstrap, topic)
        self.exits.push_async_callback(clock.stop)
        await clock.start(READY_TIMEOUT_S)
        self.clocks["ours"].pause()
        clock.resume()
        self.clocks["ours"] = clock

    def _stack_cpu(self) -> float:
        return sum(v for name, v in self.cpu().items() if name != LOAD_GENERATOR)

    async def quiet(self) -> None:
        """Wait until the stack has finished what its last arm left it (progress reports,
        workflow tasks after the last event): under a tenth of a core for half a second."""
        last = self._stack_cpu()

        async def calm() -> bool | None:
            nonlocal last
            now = self._stack_cpu()
            busy, last = now - last, now
            return True if busy < QUIET_WINDOW_S * 1000 * QUIET_SHARE else None

        await waits.until(
            calm, timeout_s=QUIET_TIMEOUT_S, what="a quiet stack", interval_s=QUIET_WINDOW_S
        )

    async def post_essay(self, base: str, text: str) -> Reply:
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
    async with contextlib.AsyncExitStack() as exits:
        http = LoadClient(max_connections=cfg.concurrency * 2)
        exits.push_async_callback(http.close)
        temporal = await waits.until(
            lambda: connect(stack.settings()), timeout_s=READY_TIMEOUT_S, what="Temporal"
        )
        clocks = {}
        for arm, topic in stack.topics.items():
            clock = EventClock(stack.bootstrap, topic)
            exits.push_async_callback(clock.stop)
            await clock.start(READY_TIMEOUT_S)
            clocks[arm] = clock
        h = Harness(cfg, stack, http, temporal, clocks, Ids(), exits)
        async with h.reading("ours", "baseline", "outbox"):
            for arm, service in (("ours", "api"), ("baseline", "baseline"), ("outbox", "outbox")):
                await _one_essay_through(h, arm, service)
        yield h


async def _one_essay_through(h: Harness, arm: str, service: str) -> None:
    text = f"ready check {uuid.uuid4().hex}"

    async def accepted() -> str | None:
        h.stack.check_alive()
        response = await h.post_essay(h.stack.url(service), text)
        return response.json()["essay_id"] if response.status == 202 else None

    essay_id = await waits.until(accepted, timeout_s=READY_TIMEOUT_S, what=f"{service} to accept")
    await h.clocks[arm].wait_for([essay_id], READY_TIMEOUT_S, f"{service}'s first essay")
