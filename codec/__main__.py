"""`python -m codec`: serve the codec endpoint on CODEC_HOST:CODEC_PORT (see codec.server)."""

from __future__ import annotations

import asyncio
import logging
import sys

from aiohttp import web

from codec.server import CodecConfigError, create_app
from serving import run_until_signalled, start_process

log = logging.getLogger("codec")


def main() -> None:
    settings = start_process("codec")
    try:
        app = create_app(settings)
    except CodecConfigError as exc:
        sys.exit(f"codec: {exc}")

    async def serve(stop: asyncio.Event) -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.codec_host, settings.codec_port).start()
        log.info("codec endpoint on http://%s:%d", settings.codec_host, settings.codec_port)
        await stop.wait()
        await runner.cleanup()

    run_until_signalled(serve)


if __name__ == "__main__":
    main()
