"""`python -m results`: the results consumer, until SIGTERM or Ctrl-C.

It reads the worker's settings (Temporal, Kafka and its security, PAYLOAD_KEYS to read memos)
and KAFKA_RESULTS_TOPIC, KAFKA_RESULTS_GROUP and RESULTS_METRICS_PORT."""

from __future__ import annotations

import asyncio
import contextlib

from api.metrics import serving_metrics
from results.consumer import consume
from serving import run_until_signalled, start_process
from temporal_client import connect


def main() -> None:
    settings = start_process("results")

    async def serve(stop: asyncio.Event) -> None:
        client = await connect(settings)
        async with contextlib.AsyncExitStack() as running:
            if settings.results_metrics_port:
                await running.enter_async_context(
                    serving_metrics(settings.host, settings.results_metrics_port)
                )
            await consume(settings, client, stop)

    run_until_signalled(serve)


if __name__ == "__main__":
    main()
