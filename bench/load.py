"""Two load shapes, both bounded in count and in time.

- closed loop: `concurrency` clients, each sending its next request when its last one answered,
  until `count` requests were sent (throughput);
- open loop: one request every 1/rate seconds on a fixed timetable, whether or not earlier ones
  answered (latency without coordinated omission: a slow answer does not delay the next send,
  and latency counts from the scheduled send time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Outcome:
    """What one call produced: `ok` is the success the arm counts (e.g. a 202)."""

    ok: bool
    status: int | None = None
    value: Any = None  # e.g. the essay id from the answer


@dataclass
class Sample:
    index: int
    start: float  # monotonic; the scheduled send time in an open loop
    end: float
    ok: bool
    status: int | None
    value: Any
    error: str | None = None
    timed_out: bool = False

    @property
    def latency_s(self) -> float:
        return self.end - self.start


@dataclass
class Run:
    began: float
    ended: float
    samples: list[Sample]
    max_send_lag_s: float = 0.0  # open loop: how late the loop fired a scheduled send

    @property
    def elapsed_s(self) -> float:
        return self.ended - self.began

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    def errors(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.samples:
            if not s.ok:
                key = s.error or f"status {s.status}"
                counts[key] = counts.get(key, 0) + 1
        return counts


Call = Callable[[int], Awaitable[Outcome]]


async def _timed(index: int, start: float, call: Call) -> Sample:
    try:
        outcome = await call(index)
    except TimeoutError as exc:  # asyncio.timeout raises TimeoutError
        return Sample(index, start, time.monotonic(), False, None, None, type(exc).__name__, True)
    except Exception as exc:  # any failure is a sample to count, not a reason to stop the load
        error = f"{type(exc).__name__}: {exc}"[:200]
        return Sample(index, start, time.monotonic(), False, None, None, error)
    return Sample(index, start, time.monotonic(), outcome.ok, outcome.status, outcome.value)


async def closed_loop(count: int, concurrency: int, call: Call, *, timeout_s: float) -> Run:
    samples: list[Sample] = []
    indices = iter(range(count))  # shared: each index is taken by exactly one client

    async def client() -> None:
        for index in indices:
            samples.append(await _timed(index, time.monotonic(), call))

    began = time.monotonic()
    async with asyncio.timeout(timeout_s):
        await asyncio.gather(*(client() for _ in range(concurrency)))
    return Run(began, time.monotonic(), sorted(samples, key=lambda s: s.index))


async def open_loop(
    rate: float,
    count: int,
    call: Call,
    *,
    timeout_s: float,
    stop: asyncio.Event | None = None,
) -> Run:
    """Send `count` requests at `rate`/s; with `stop`, sends due after it is set are skipped."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[Sample]] = []
    lags: list[float] = []
    all_sent = asyncio.Event()
    # Sends are timed on the loop's clock, latencies on time.monotonic(), which the samples and
    # the event readers use (the same clock under asyncio's loop; under uvloop's, to the ms).
    # The first slot is just ahead, so it is not already late.
    loop_began, began = loop.time() + 0.05, time.monotonic() + 0.05

    def fire(index: int) -> None:
        if stop is not None and stop.is_set():
            all_sent.set()
            return
        lags.append(loop.time() - (loop_began + index / rate))
        tasks.append(loop.create_task(_timed(index, began + index / rate, call)))
        if index == count - 1:
            all_sent.set()

    handles = [loop.call_at(loop_began + i / rate, fire, i) for i in range(count)]
    watcher = loop.create_task(stop.wait()) if stop is not None else None
    if watcher is not None:
        watcher.add_done_callback(lambda _: all_sent.set())
    try:
        async with asyncio.timeout(timeout_s):
            await all_sent.wait()
            samples = await asyncio.gather(*tasks)
    finally:
        for handle in handles:
            handle.cancel()
        if watcher is not None:
            watcher.cancel()
        for task in tasks:
            task.cancel()
    return Run(began, time.monotonic(), list(samples), max(lags, default=0.0))
