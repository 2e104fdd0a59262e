"""Waiting on conditions with deadlines: the harness never sleeps for a fixed time and hopes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(
    attempt: Callable[[], Awaitable[T | None]],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 0.1,
) -> T:
    """Call `attempt` until it returns something other than None; TimeoutError at the deadline.

    An exception from `attempt` counts as "not yet" until the deadline, then is re-raised as
    the cause, so a server that is still starting is retried but a lasting fault is reported.
    """
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while True:
        try:
            value = await attempt()
        except Exception as exc:  # retried until the deadline, then reported
            value, last = None, exc
        if value is not None:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"timed out after {timeout_s:g}s waiting for {what}") from last
        # The poll interval between two checks of the condition, never past the deadline.
        await asyncio.sleep(min(interval_s, remaining))
