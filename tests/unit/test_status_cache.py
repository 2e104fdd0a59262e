"""The status cache's policy, on a clock the test moves: fresh, stale-while-revalidate, expired,
shared reads, writes that drop or revise copies, errors that are never kept. The real stack's
side (the `Age` header, reading one's own writes) is in tests/e2e/test_batch_status_cache.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from api.status_cache import StatusCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Reader:
    """Counts reads; each answers the next number, or waits for `gate` when one is set."""

    def __init__(self) -> None:
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None

    async def __call__(self) -> int:
        self.reads += 1
        answer = self.reads
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return answer


KEY = ("client-a", "batch-1", 0, 50)
OTHER_BATCH = ("client-a", "batch-2", 0, 50)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> StatusCache:
    return StatusCache(max_age_s=1.0, clock=clock)


async def settle() -> None:
    """Let background reads run to their end (they await nothing slow here)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_fresh_copy_is_served_without_a_read(cache: StatusCache, clock: Clock) -> None:
    read = Reader()
    assert await cache.get(KEY, read) == (1, 0.0)
    clock.now += 0.1
    assert await cache.get(KEY, read) == (1, pytest.approx(0.1))
    await settle()
    assert read.reads == 1


async def test_a_stale_copy_is_served_once_while_one_read_refreshes_it(
    cache: StatusCache, clock: Clock
) -> None:
    read = Reader()
    await cache.get(KEY, read)
    clock.now += 0.5
    read.gate = asyncio.Event()
    # Three polls while the refresh is slow: all answered at once from the old copy.
    for _ in range(3):
        assert (await cache.get(KEY, read))[0] == 1
        await settle()
    assert read.reads == 2  # one refresh, not three
    read.gate.set()
    await settle()
    assert await cache.get(KEY, read) == (2, pytest.approx(0.0))


async def test_an_expired_copy_is_read_again_before_answering(
    cache: StatusCache, clock: Clock
) -> None:
    read = Reader()
    await cache.get(KEY, read)
    clock.now += 1.5
    assert (await cache.get(KEY, read))[0] == 2


async def test_requests_without_a_copy_share_one_read(cache: StatusCache) -> None:
    read = Reader()
    read.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.get(KEY, read)) for _ in range(5)]
    await settle()
    read.gate.set()
    assert [v for v, _ in await asyncio.gather(*waiting)] == [1] * 5
    assert read.reads == 1


async def test_keys_are_kept_apart_per_client_and_page(cache: StatusCache) -> None:
    read = Reader()
    await cache.get(KEY, read)
    assert (await cache.get(("client-b", "batch-1", 0, 50), read))[0] == 2
    assert (await cache.get(("client-a", "batch-1", 50, 50), read))[0] == 3


async def two_batches_read(cache: StatusCache) -> Reader:
    """KEY's copy read first (answer 1), then OTHER_BATCH's (answer 2)."""
    read = Reader()
    await cache.get(KEY, read)
    await cache.get(OTHER_BATCH, read)
    return read


async def check_reads_begun_before_are_not_kept(
    cache: StatusCache, clock: Clock, read: Reader, write: Callable[[], None]
) -> None:
    """A read that began before `write` answers its waiters but is not kept. `read` has
    answered three times so far."""
    clock.now += 1.5
    read.gate = asyncio.Event()
    before = asyncio.create_task(cache.get(KEY, read))
    await settle()
    write()
    read.gate.set()
    assert (await before)[0] == 4
    read.gate = None
    assert (await cache.get(KEY, read))[0] == 5


async def test_a_write_drops_the_batch_copies_and_the_reads_begun_before_it(
    cache: StatusCache, clock: Clock
) -> None:
    read = await two_batches_read(cache)
    cache.forget("batch-1")
    assert (await cache.get(KEY, read))[0] == 3
    assert (await cache.get(OTHER_BATCH, read))[0] == 2  # another batch keeps its copy
    await check_reads_begun_before_are_not_kept(cache, clock, read, lambda: cache.forget("batch-1"))


async def test_a_revised_copy_is_served_at_once_then_refreshed(
    cache: StatusCache, clock: Clock
) -> None:
    read = await two_batches_read(cache)
    cache.revise("batch-1", lambda value: value * 10)
    assert (await cache.get(KEY, read))[0] == 10  # the trigger shows, with no read
    await settle()
    assert read.reads == 3  # but a refresh began, however young the copy was
    assert (await cache.get(KEY, read))[0] == 3
    assert (await cache.get(OTHER_BATCH, read))[0] == 2  # another batch's copy is untouched
    await check_reads_begun_before_are_not_kept(
        cache, clock, read, lambda: cache.revise("batch-1", lambda value: value * 10)
    )


async def test_added_essays_refresh_the_copy_while_it_is_still_served(
    cache: StatusCache,
) -> None:
    read = Reader()
    await cache.get(KEY, read)
    cache.outdate("batch-1")
    read.gate = asyncio.Event()
    assert (await cache.get(KEY, read))[0] == 1  # served at once, though outdated
    await settle()
    assert read.reads == 2  # and refreshed, however young it was

    # A read that began before the addition is kept, but still outdated: refreshed again.
    cache.outdate("batch-1")
    read.gate.set()
    await settle()
    read.gate = None
    assert (await cache.get(KEY, read))[0] == 2
    await settle()
    assert read.reads == 3
    assert (await cache.get(KEY, read))[0] == 3


async def test_a_seeded_answer_is_served_as_a_fresh_read(cache: StatusCache, clock: Clock) -> None:
    read = Reader()
    cache.seed(KEY, "as created")
    assert (await cache.get(KEY, read)) == ("as created", 0.0)
    assert read.reads == 0
    # Unpolled, it goes once no longer fresh: a page nobody polls is read anew when asked for.
    cache.seed(OTHER_BATCH, "as created")
    clock.now += 0.5
    assert (await cache.get(OTHER_BATCH, read))[0] == 1


async def test_with_zero_max_age_nothing_is_seeded(clock: Clock) -> None:
    cache = StatusCache(max_age_s=0, clock=clock)
    read = Reader()
    cache.seed(KEY, "as created")
    assert (await cache.get(KEY, read))[0] == 1


async def test_errors_reach_the_caller_and_are_not_kept(cache: StatusCache, clock: Clock) -> None:
    read = Reader()
    read.error = RuntimeError("server unavailable")
    with pytest.raises(RuntimeError):
        await cache.get(KEY, read)
    read.error = None
    assert (await cache.get(KEY, read))[0] == 2

    # A failed background refresh leaves the copy until it expires, then the error shows.
    clock.now += 0.5
    read.error = RuntimeError("server unavailable")
    assert (await cache.get(KEY, read))[0] == 2
    await settle()
    clock.now += 0.6
    with pytest.raises(RuntimeError):
        await cache.get(KEY, read)


async def test_a_client_that_hangs_up_does_not_cancel_the_shared_read(cache: StatusCache) -> None:
    read = Reader()
    read.gate = asyncio.Event()
    first = asyncio.create_task(cache.get(KEY, read))
    second = asyncio.create_task(cache.get(KEY, read))
    await settle()
    first.cancel()
    read.gate.set()
    assert (await second)[0] == 1
    assert read.reads == 1


async def test_zero_max_age_reads_every_time(clock: Clock) -> None:
    cache = StatusCache(max_age_s=0, clock=clock)
    read = Reader()
    assert [(await cache.get(KEY, read))[0] for _ in range(3)] == [1, 2, 3]


async def test_the_oldest_copies_go_past_the_limit(clock: Clock) -> None:
    cache = StatusCache(max_age_s=1.0, max_entries=2, clock=clock)
    read = Reader()
    for batch in ("b1", "b2", "b3"):
        await cache.get(("c", batch, 0, 50), read)
    assert (await cache.get(("c", "b3", 0, 50), read))[0] == 3  # kept
    assert (await cache.get(("c", "b1", 0, 50), read))[0] == 4  # dropped, read again


async def test_close_stops_the_reads_in_flight(cache: StatusCache) -> None:
    read = Reader()
    read.gate = asyncio.Event()
    waiting = asyncio.create_task(cache.get(KEY, read))
    await settle()
    await cache.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting
