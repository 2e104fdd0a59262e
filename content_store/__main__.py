"""`python -m content_store --port 8000 --data-dir .state/content`: serve the store."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

import uvloop
from hypercorn.asyncio import serve
from hypercorn.config import Config

from content_store.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="content_store", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", type=Path, default=Path(".state/content"))
    args = parser.parse_args()

    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.accesslog = None

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(create_app(args.data_dir), config, shutdown_trigger=stop.wait)

    # libuv's loop: less CPU per request than asyncio's own.
    uvloop.run(run())


if __name__ == "__main__":
    main()
