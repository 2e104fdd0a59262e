"""`python -m content_store --port 8000 --data-dir .state/content`: serve the store."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path

from aiohttp import web

from content_store.app import create_app
from logging_setup import configure_logging
from serving import run_until_signalled

log = logging.getLogger("content_store")


def main() -> None:
    parser = argparse.ArgumentParser(prog="content_store", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", type=Path, default=Path(".state/content"))
    # The same variables as the API and the worker, so one environment configures all three.
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO").upper())
    parser.add_argument(
        "--log-format", choices=("json", "text"), default=os.environ.get("LOG_FORMAT", "json")
    )
    args = parser.parse_args()
    configure_logging(args.log_level, args.log_format)

    async def serve(stop: asyncio.Event) -> None:
        runner = web.AppRunner(create_app(args.data_dir), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, args.host, args.port).start()
        log.info("Running on http://%s:%d (SIGTERM or CTRL + C to quit)", args.host, args.port)
        await stop.wait()
        await runner.cleanup()  # stops listening, lets requests in flight finish

    # libuv's loop: less CPU per request than asyncio's own.
    run_until_signalled(serve)


if __name__ == "__main__":
    main()
