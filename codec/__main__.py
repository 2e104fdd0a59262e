"""`python -m codec`: serve the codec endpoint on CODEC_HOST:CODEC_PORT (see codec.server)."""

from __future__ import annotations

import asyncio
import logging
import sys

from aiohttp import web

from codec.server import CodecConfigError, create_app
from logging_setup import configure_logging
from serving import run_until_signalled
from settings import SettingsError, load_settings

log = logging.getLogger("codec")


def main() -> None:
    try:
        settings = load_settings()
        app = create_app(settings)
    except (SettingsError, CodecConfigError) as exc:
        sys.exit(f"codec: {exc}")
    configure_logging(settings.log_level, settings.log_format)

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
