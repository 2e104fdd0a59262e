"""Reads a topic from its start and notes when each key's first event arrived here.

One reader per topic is started with the stack, before any load, so it is never behind when an
arm begins. Arms use fresh essay ids, so a key identifies one arm's essay. Every arm of a
comparison is read by an identical reader (same class, same settings), and the same readers are
fetching during both arms of a comparison. Readers that no running benchmark needs are paused:
on a small machine three readers polling every 20 ms cost a tenth of a core, and as much again
in the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer

from bench import waits

# aiokafka asks the broker to hold a fetch up to 500 ms for data by default, and the embedded
# broker answers a waiting fetch late (measured: ~115 ms after the write at 500, ~16 ms at 100,
# ~5 ms at 20), which would add that much to every measured latency.
FETCH_MAX_WAIT_MS = 20


@dataclass
class _Waiter:
    pending: set[bytes]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class EventClock:
    """Key -> monotonic time at which this process first received an event with that key."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.first_seen: dict[bytes, float] = {}
        self.messages = 0
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=None,  # no group: no rebalances, no committed offsets to inherit
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[_Waiter] = []

    async def start(self, timeout_s: float) -> None:
        """Start paused, once the topic's partitions are assigned (so pausing reaches them)."""
        await self._consumer.start()
        await waits.until(self._assigned, timeout_s=timeout_s, what=f"partitions of {self.topic}")
        self.pause()
        self._task = asyncio.create_task(self._read(), name=f"read {self.topic}")
        self._task.add_done_callback(self._reader_ended)

    async def _assigned(self) -> bool | None:
        return True if self._consumer.assignment() else None

    def pause(self) -> None:
        self._consumer.pause(*self._consumer.assignment())

    def resume(self) -> None:
        # Wakes the fetcher at once; events written while paused are fetched then.
        self._consumer.resume(*self._consumer.assignment())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def wait_for(self, keys: Iterable[str], timeout_s: float, what: str) -> dict[str, float]:
        """Wait until every key has had an event; return each key's first receive time."""
        wanted = {k.encode() for k in keys}
        pending = wanted - self.first_seen.keys()
        if pending:
            waiter = _Waiter(pending)
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(asyncio.shield(waiter.done), timeout_s)
            except TimeoutError:
                raise TimeoutError(
                    f"{len(waiter.pending)} of {len(wanted)} events for {what} had not arrived "
                    f"on {self.topic} after {timeout_s:g}s"
                ) from None
            finally:
                self._waiters.remove(waiter)
        return {k.decode(): self.first_seen[k] for k in wanted}

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000)
            now = time.monotonic()  # one clock reading per fetch: when it reached us
            fresh: list[bytes] = []
            for records in batches.values():
                for record in records:
                    self.messages += 1
                    if record.key is not None and record.key not in self.first_seen:
                        self.first_seen[record.key] = now
                        fresh.append(record.key)
            if fresh:
                for waiter in self._waiters:
                    waiter.pending.difference_update(fresh)
                    if not waiter.pending and not waiter.done.done():
                        waiter.done.set_result(None)

    def _reader_ended(self, task: asyncio.Task[None]) -> None:
        # A reader that died must fail its waiters now rather than at their deadlines.
        if task.cancelled():
            return
        error = task.exception() or RuntimeError(f"the reader of {self.topic} stopped")
        for waiter in self._waiters:
            if not waiter.done.done():
                waiter.done.set_exception(error)
