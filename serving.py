"""Running a small service until it is told to stop: the content store, the codec endpoint and
the embedded spell checker share this."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import uvloop


def run_until_signalled(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `serve(stop)` on libuv's loop; SIGTERM or SIGINT sets `stop`, and `serve` returns
    once it has finished what is in flight."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(stop)

    uvloop.run(run())
