"""How our processes start and run: their settings and logs, read and set up the same way
everywhere; and a small service (the content store, the codec endpoint, the embedded spell
checker) run until it is told to stop."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable

import uvloop

from logging_setup import configure_logging
from settings import Settings, SettingsError, get_settings


def start_process(name: str) -> Settings:
    """The process's settings, its logs set up as they say; a bad setting exits, naming it."""
    try:
        settings = get_settings()
    except SettingsError as exc:
        sys.exit(f"{name}: {exc}")
    configure_logging(settings.log_level, settings.log_format)
    return settings


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
