"""Knowing that the API is stopping, so that long answers (a batch's event stream) end at once.

On SIGTERM Hypercorn stops listening and waits up to `graceful_timeout` for the requests in
flight (hypercorn_config.py), but it tells the app only after that wait (the lifespan's
shutdown, Quart's `after_serving`). A stream that waits for a batch's next change would hold
the whole drain and then be cut off mid-answer. So, while serving, the API adds its own handler
for SIGTERM and SIGINT ahead of the one there: it sets `stopping()` and calls the one before it,
so Hypercorn still gets the signal. Streams see the event and end their answer cleanly; the
client reconnects to another instance, from where it left off.

Python runs a signal's handler between two bytecodes of the main thread, whatever the loop is
doing, so the handler only schedules the event's `set` on the loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from quart import Quart, current_app

STOPPING = "stopping"
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stopping() -> asyncio.Event:
    """Set once the API has been told to stop."""
    return current_app.extensions[STOPPING]


def register_stopping(app: Quart, *, watch_signals: bool) -> None:
    """`stopping()` for the app; with `watch_signals` (a served process, not a test's app) it is
    set by SIGTERM or SIGINT, and in any case once the app stops serving."""
    previous: dict[signal.Signals, Any] = {}
    app.extensions[STOPPING] = asyncio.Event()

    @app.before_serving
    async def watch() -> None:
        event = app.extensions[STOPPING] = asyncio.Event()  # one per time the app serves
        if not watch_signals:
            return
        loop = asyncio.get_running_loop()

        def notify() -> None:
            loop.call_soon_threadsafe(event.set)

        for sig in SIGNALS:
            previous[sig] = signal.getsignal(sig)
            signal.signal(sig, _chained(previous[sig], notify))

    @app.after_serving
    async def stopped() -> None:
        app.extensions[STOPPING].set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        previous.clear()


def _chained(before: Any, notify: Callable[[], object]) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        notify()
        if callable(before):  # the loop's handler (asyncio's or uvloop's) passes it on
            before(signum, frame)
        elif before == signal.SIG_DFL:  # nobody else watched it: what it would have done
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    return handler
