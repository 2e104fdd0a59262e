"""Stopping a local activity when its worker stops, as the SDK stops the other activities.

On SIGTERM the worker stops polling and gives running activities its graceful shutdown period,
then cancels them (a batch chunk's activity then hands back what it finished). The SDK does not
cancel a local activity (checked with temporalio 1.35): the worker waits for it up to its
start-to-close timeout, so one request hanging on the Content Service or the broker would hold
a stopping worker for 30 s, beyond what an orchestrator usually grants before SIGKILL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

T = TypeVar("T")

WORKER_STOPPING = "WorkerStopping"
# What worker.py passes unless WORKER_GRACEFUL_SHUTDOWN_S says otherwise.
DEFAULT_SHUTDOWN_GRACE = timedelta(seconds=10)


async def within_shutdown_grace(call: Awaitable[T], grace: timedelta) -> T:
    """Await `call`; once the worker begins shutting down, give it `grace`, then abandon it.

    The error raised then is retryable: the essay's workflow counts the attempt and waits its
    backoff on a durable timer, and the next attempt runs on a worker that is not stopping.
    """
    loop = asyncio.get_running_loop()

    async def start_countdown(deadline: asyncio.Timeout) -> None:
        await activity.wait_for_worker_shutdown()
        deadline.reschedule(loop.time() + grace.total_seconds())

    try:
        async with asyncio.timeout(None) as deadline:
            countdown = asyncio.create_task(start_countdown(deadline))
            try:
                return await call
            finally:
                countdown.cancel()
    except TimeoutError:
        if not deadline.expired():
            raise  # the call's own timeout, not ours
        raise ApplicationError(
            f"the worker is shutting down and this step outlasted its {grace.total_seconds():g} s"
            " grace period; another worker retries it",
            type=WORKER_STOPPING,
        ) from None
