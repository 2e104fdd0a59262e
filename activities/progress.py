"""Run many small jobs inside one activity: heartbeat while they run, and on cancellation hand
back what finished instead of losing it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable

from temporalio import activity

HEARTBEAT_EVERY_S = 1.0


async def run_all_heartbeating(jobs: Iterable[Awaitable[None]]) -> bool:
    """Run `jobs` concurrently, heartbeating, until all finish or the activity is cancelled.

    Each job records its own outcome. Returns False when cancelled (the unfinished jobs are
    cancelled too), so the caller can return partial progress as a normal result.
    """
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        pending = set(tasks)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=HEARTBEAT_EVERY_S)
            activity.heartbeat(len(tasks) - len(pending))
        return True
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        return False
