"""Batch status answers kept for a moment, so that polling does not wait on a busy server.

A batch's status is read from Temporal (`describe` of the parent and of a chunk). While a large
batch runs, the server is the busiest process on the machine and every read queues behind the
batch's own work (docs/performance.md, B4). Clients poll status (the CLI's `--watch` every
second, dashboards), so the API answers from a copy that is at most `max_age_s` old, in RFC
5861's stale-while-revalidate manner:

- a copy younger than 40% of `max_age_s` is served as it is;
- an older one, still within `max_age_s`, is served at once while one background read (never
  two for the same key) replaces it;
- with no copy, or an older one, the request reads the server itself; requests that arrive
  meanwhile for the same key wait for that same read.

Copies are kept per client (ownership was checked when they were read), per page, and only for
answers: an error is never kept. A batch created through this API starts with a copy of its
first page, built from what the create answered, so the client's first poll needs no read (it
is kept only while a copy is fresh, unless a poll's refresh replaces it). A trigger or cancel
through this API revises the batch's copies with the status its update answered (or drops
them, without one), and a read that began before it is not kept, so the client's next status
shows it. Added essays mark the copies outdated: a client uploading pages
would otherwise send every poll to the server exactly while it is busiest, so its polls are
still answered from the copy, which is refreshed at once. What the workers change (essays
stored, published) shows within `max_age_s`. `STATUS_MAX_AGE_S=0` turns the cache off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# Until this share of max_age_s a copy is not refreshed: a poller at several requests a second
# causes about one server read a second, not one per request. The rest of max_age_s is how long
# a slow server may take to refresh it before requests wait on the server again. (A smaller
# share made several reads a second per polled page, each two describes decoded on the API's
# loop, for no better latency: the performance page has the runs.)
FRESH_FRACTION = 0.4
# A page of status is at most 100 essays (about 30 KB): 256 copies stay within a few MB.
DEFAULT_MAX_ENTRIES = 256

Key = tuple[Hashable, str, int, int]  # (client, batch_id, offset, limit)


@dataclass
class _Copy:
    value: Any
    read_at: float  # monotonic clock, when the read that produced it began
    # Served for this long at most. A seed only answers the polls of the next moment: a copy
    # of a page nobody polls would otherwise outlive what the workers do meanwhile.
    max_age_s: float
    outdated: bool = False  # essays were added since: refresh it now, serve it meanwhile


class StatusCache:
    def __init__(
        self,
        max_age_s: float,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age_s = max_age_s
        self._fresh_s = max_age_s * FRESH_FRACTION
        self._max_entries = max_entries
        self._clock = clock
        self._copies: OrderedDict[Key, _Copy] = OrderedDict()
        self._reads: dict[Key, asyncio.Task[_Copy]] = {}
        # Bumped by each trigger or cancel: a read that began before one must not be kept.
        self._drops = 0
        # Bumped when essays are added: a read that began before is kept, but as outdated.
        self._additions = 0

    async def get(self, key: Key, read: Callable[[], Awaitable[Any]]) -> tuple[Any, float]:
        """The answer for `key` and its age in seconds, calling `read` only when needed."""
        if self._max_age_s <= 0:
            return await read(), 0.0
        copy = self._copies.get(key)
        now = self._clock()
        if copy is not None and now - copy.read_at <= copy.max_age_s:
            self._copies.move_to_end(key)
            stale = copy.outdated or now - copy.read_at > self._fresh_s
            if stale and key not in self._reads:
                self._start_read(key, read)
            return copy.value, now - copy.read_at
        task = self._reads.get(key) or self._start_read(key, read)
        # Shielded: a client that hangs up does not cancel the read the others wait for.
        copy = await asyncio.shield(task)
        return copy.value, max(0.0, self._clock() - copy.read_at)

    def seed(self, key: Key, value: Any) -> None:
        """An answer known without reading (a batch this API has just created), kept as if it
        had been read now, but only while a copy is fresh."""
        if self._max_age_s > 0:
            self._store(key, _Copy(value, self._clock(), self._fresh_s))

    def forget(self, batch_id: str) -> None:
        """Drop the batch's copies: it was triggered or cancelled through this API."""
        self._abandon_reads(batch_id)
        for key in [k for k in self._copies if k[1] == batch_id]:
            del self._copies[key]

    def revise(self, batch_id: str, change: Callable[[Any], Any]) -> None:
        """The batch was triggered or cancelled through this API, and the update answered with
        its new status: `change` applies it to each copy, which is served at once and refreshed
        (a read that began before is not kept). Dropping the copies instead made the next poll
        wait on the server exactly while the batch keeps it busiest (bench B4)."""
        self._abandon_reads(batch_id)
        for key, copy in self._copies.items():
            if key[1] == batch_id:
                copy.value = change(copy.value)
                copy.outdated = True

    def outdate(self, batch_id: str) -> None:
        """Essays were added to the batch through this API: its copies are still served (a
        busy uploader would otherwise send every poll to the server) but refreshed at once."""
        self._additions += 1
        for key, copy in self._copies.items():
            if key[1] == batch_id:
                copy.outdated = True

    def _abandon_reads(self, batch_id: str) -> None:
        """Reads of the batch already running are not kept: they began before a change."""
        self._drops += 1
        for key in [k for k in self._reads if k[1] == batch_id]:
            del self._reads[key]  # it runs on for those already waiting

    async def close(self) -> None:
        """Stop the reads still running (at shutdown)."""
        tasks = list(self._reads.values())
        self._reads.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start_read(self, key: Key, read: Callable[[], Awaitable[Any]]) -> asyncio.Task[_Copy]:
        task = asyncio.ensure_future(self._read(key, read))
        task.add_done_callback(_log_failure)
        self._reads[key] = task
        return task

    async def _read(self, key: Key, read: Callable[[], Awaitable[Any]]) -> _Copy:
        began, drops, additions = self._clock(), self._drops, self._additions
        try:
            value = await read()
            # Essays added while it read: kept, but refreshed at once.
            copy = _Copy(value, began, self._max_age_s, outdated=additions != self._additions)
        finally:
            if self._reads.get(key) is asyncio.current_task():
                del self._reads[key]
        if drops == self._drops:
            self._store(key, copy)
        return copy

    def _store(self, key: Key, copy: _Copy) -> None:
        self._copies[key] = copy
        self._copies.move_to_end(key)
        while len(self._copies) > self._max_entries:
            self._copies.popitem(last=False)


def _log_failure(task: asyncio.Task) -> None:
    """Retrieve a failed read's error, which nobody may be waiting for: after a background
    refresh the copy stays until it is too old, and the next request reads (and reports) the
    error itself."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("batch status read failed: %r", task.exception())
