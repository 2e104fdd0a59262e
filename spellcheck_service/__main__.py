"""`python -m spellcheck_service`: serve the embedded spell checker until SIGTERM or Ctrl-C.

It reads the settings the worker reads: KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC (the requests)
and CONTENT_SERVICE_URL, LOG_LEVEL and LOG_FORMAT."""

from __future__ import annotations

import asyncio
import signal
import sys

import uvloop

from logging_setup import configure_logging
from settings import SettingsError, load_settings
from spellcheck_service.service import serve


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"spellchecker: {exc}")
    configure_logging(settings.log_level, settings.log_format)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(
            settings.kafka_bootstrap_servers,
            settings.kafka_topic,
            settings.content_service_url,
            stop,
        )

    uvloop.run(run())


if __name__ == "__main__":
    main()
