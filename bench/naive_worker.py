"""`python -m bench.naive_worker`: a worker for the naive arm only, on its own task queue, with
the product's activities and clients (configured from the same environment as worker.py)."""

from __future__ import annotations

import asyncio
import signal

from temporalio.worker import Worker

from activities.content import ContentActivities
from activities.events import EventActivities
from activities.kafka import KafkaPublisher
from bench.naive_workflow import NaiveEssayWorkflow
from process_priority import lower_cpu_priority
from settings import get_settings
from temporal_client import connect
from worker import build_http_client


async def main() -> None:
    settings = get_settings()
    if settings.worker_nice:  # as worker.py does, so both arms' workers rank alike
        lower_cpu_priority(settings.worker_nice)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    client = await connect(settings)
    publisher = KafkaPublisher(settings)
    async with build_http_client(settings) as http:
        content = ContentActivities(
            http, settings.content_service_url, settings.content_service_concurrency
        )
        events = EventActivities(publisher, settings.kafka_topic)
        async with Worker(
            client,
            task_queue=settings.temporal_task_queue,
            workflows=[NaiveEssayWorkflow],
            activities=[content.store_essay, events.publish_event],
        ):
            await stop.wait()
    await publisher.close()


if __name__ == "__main__":
    asyncio.run(main())
