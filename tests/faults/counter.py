"""A consumer that reads the topic for a whole scenario and counts events by `event_id`.

The embedded broker keeps its data in memory only: whatever it holds is gone when it stops. So
before the broker stops, the counter drains the topic to its end offsets (with nothing being
produced meanwhile), and after the broker is back it reads the new, empty topic from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer

from tests.helpers import wait_until

# How long after a drain starts a write that was already sent must have reached the broker.
SETTLE_MS = 300


@dataclass(frozen=True)
class Copy:
    """One message as it arrived: everything a consumer could compare."""

    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


@dataclass
class EventCounter:
    """Counts the events of essays whose ids start with `prefix` (one scenario's essays)."""

    bootstrap: str
    topic: str
    prefix: bytes
    first: dict[str, Copy] = field(default_factory=dict)  # event_id -> its first copy
    duplicates: int = 0  # copies after the first, of any event
    # (event_id, first copy, later copy) for every later copy that is not byte-identical
    unlike: list[tuple[str, Copy, Copy]] = field(default_factory=list)
    without_id: int = 0  # messages with no event_id header (none expected)
    _consumer: AIOKafkaConsumer | None = None
    _reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read from the topic's start (after a broker restart, the new topic's start)."""
        self._consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            # An idle fetch returns after this, refreshing what the partition's end is.
            fetch_max_wait_ms=100,
        )
        await self._consumer.start()
        self._reader = asyncio.create_task(self._read())

    def raise_if_failed(self) -> None:
        """Raise what stopped the reading, if anything did."""
        if self._reader is not None and self._reader.done():
            self._reader.result()
            raise AssertionError("the counting consumer stopped reading")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def drain(self, timeout_s: float) -> None:
        """Wait until everything the broker holds has been read; the caller makes sure that
        nothing more is produced meanwhile.

        Done when a fetch answered at least SETTLE_MS after this call (so after any write that
        was already on its way) found the consumer at the partition's end.
        """
        consumer = self._consumer
        assert consumer is not None, "the counter is not reading"
        since_ms = time.time() * 1000 + SETTLE_MS

        async def read_to_end() -> bool:
            partitions = consumer.assignment()
            for tp in partitions:
                fetched_ms, end = consumer.last_poll_timestamp(tp), consumer.highwater(tp)
                if fetched_ms is None or fetched_ms < since_ms or end is None:
                    return False
                if await consumer.position(tp) < end:
                    return False
            return bool(partitions)

        await wait_until(read_to_end, timeout_s=timeout_s, what=f"{self.topic} read to its end")

    @property
    def published(self) -> set[str]:
        return set(self.first)

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    self._count(Copy(record.key, record.value, tuple(record.headers)))

    def _count(self, copy: Copy) -> None:
        if not (copy.key or b"").startswith(self.prefix):
            return  # another scenario's essay
        headers = dict(copy.headers)
        if "event_id" not in headers:
            self.without_id += 1
            return
        event_id = headers["event_id"].decode()
        earlier = self.first.setdefault(event_id, copy)
        if earlier is copy:
            return
        self.duplicates += 1
        if copy != earlier:
            self.unlike.append((event_id, earlier, copy))


def changed_fields(first: Copy, later: Copy) -> set[str]:
    """What differs between two copies: "key", "headers", or the body's fields as dotted paths
    (one level into nested objects), e.g. {"text_storage_id", "system_metadata.timestamp"}."""
    changed = {name for name in ("key", "headers") if getattr(first, name) != getattr(later, name)}
    try:
        a, b = json.loads(first.value), json.loads(later.value)
    except ValueError:
        return changed | {"body"}
    for name in a.keys() | b.keys():
        x, y = a.get(name), b.get(name)
        if isinstance(x, dict) and isinstance(y, dict):
            changed |= {f"{name}.{k}" for k in x.keys() | y.keys() if x.get(k) != y.get(k)}
        elif x != y:
            changed.add(name)
    return changed
