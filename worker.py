"""The Temporal worker: runs the workflows and their activities until SIGTERM or SIGINT.

One pooled httpx client and one Kafka producer serve every activity in this process; both are
opened before the worker polls and closed after it has drained. With WORKER_METRICS_PORT set,
the SDK's metrics, the activities' counters and the backlog gauges are served there.

On SIGTERM it stops polling at once (another worker takes new tasks), lets running activities
finish for WORKER_GRACEFUL_SHUTDOWN_S, then cancels what is left: a batch chunk's activity hands
back the essays it finished, a single essay's step fails with a retryable error, and either way
the workflow retries the rest on another worker. Nothing is lost if the process is killed
instead; the heartbeat and workflow task timeouts then take longer to notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from datetime import timedelta

import httpx
import uvloop
from httpx_aiohttp import AiohttpTransport
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from activities.content import ContentActivities
from activities.events import EventActivities
from activities.kafka import IdempotenceRejected, KafkaPublisher
from activities.lookups import look_at_batch, look_at_chunks, read_essay_id_hashes
from process_priority import lower_cpu_priority
from serving import start_process
from settings import Settings
from telemetry.backlog import watch_backlog
from temporal_client import (
    MetricsPortUnavailable,
    TemporalConfigError,
    build_runtime,
    connect,
)
from tracing import configure_tracing
from workflows.batch import BatchWorkflow
from workflows.chunk import ChunkWorkflow
from workflows.essay import EssayWorkflow

log = logging.getLogger("worker")

WORKFLOW_TASKS_IN_FLIGHT = 10
# mallopt's parameter number for the mmap threshold (glibc's malloc.h), and the threshold.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024

WORKFLOWS: Sequence[type] = (EssayWorkflow, BatchWorkflow, ChunkWorkflow)


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    token = settings.content_service_token
    # An https Content Service's CA, where it is not one the system trusts.
    verify = (
        ssl.create_default_context(cafile=settings.content_service_ca_file)
        if settings.content_service_ca_file
        else True
    )
    # One connection per request allowed in flight: none waits for a connection, and idle
    # ones stay open for the next chunk.
    limits = httpx.Limits(
        max_connections=settings.content_service_concurrency,
        max_keepalive_connections=settings.content_service_concurrency,
    )
    return httpx.AsyncClient(
        timeout=settings.content_service_timeout_s,
        headers={"Authorization": f"Bearer {token.get_secret_value()}"} if token else None,
        # httpx's interface on aiohttp's connections: about half the CPU per request of
        # httpx's own pool, which checks every idle connection with a syscall per request.
        transport=AiohttpTransport(verify=verify, limits=limits),
    )


class Workers:
    """The process's workers, one per task queue, started together and drained together."""

    def __init__(self, *workers: Worker) -> None:
        self.workers = workers

    async def __aenter__(self) -> Workers:
        async with contextlib.AsyncExitStack() as started:
            for worker in self.workers:
                await started.enter_async_context(worker)
            started.pop_all()  # all polling: from here on __aexit__ stops them
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # At once, not one after the other: each has the whole grace period, not its share.
        await asyncio.gather(*(worker.__aexit__(*exc_info) for worker in self.workers))


def build_workers(
    client: Client, settings: Settings, http: httpx.AsyncClient, publisher: KafkaPublisher
) -> Workers:
    """A worker for single essays and one for batches, sharing the clients and the limits on
    what they send. Batches have a queue of their own so that their updates, which the API
    waits for, never queue behind thousands of single essays' workflow tasks."""
    # Activities get the grace period too: the SDK cancels running activities when it ends, but
    # not local ones, which stop themselves then (activities/shutdown.py).
    grace = timedelta(seconds=settings.worker_graceful_shutdown_s)
    content = ContentActivities(
        http, settings.content_service_url, settings.content_service_concurrency, grace
    )
    events = EventActivities(publisher, settings.kafka_topic, grace, settings.kafka_batch_topic)
    batch_activities = [
        content.store_chunk,
        events.publish_chunk,
        events.publish_batch_event,
        look_at_batch,
        look_at_chunks,
        read_essay_id_hashes,
    ]

    def worker(task_queue: str, workflows: Sequence[type], activities: list) -> Worker:
        return Worker(
            client,
            task_queue=task_queue,
            workflows=list(workflows),
            activities=activities,
            graceful_shutdown_timeout=grace,
            max_concurrent_activities=settings.worker_max_concurrent_activities,
            # Workflow tasks run one at a time under the GIL anyway; each one in flight holds
            # its history (a chunk's start carries up to 384 KiB of texts) in memory.
            max_concurrent_workflow_tasks=WORKFLOW_TASKS_IN_FLIGHT,
        )

    return Workers(
        # Everything, for the batches begun before they had a queue of their own: a workflow
        # keeps the queue it started on.
        worker(
            settings.temporal_task_queue,
            WORKFLOWS,
            [content.store_essay, events.publish_event, *batch_activities],
        ),
        worker(settings.batch_task_queue, (BatchWorkflow, ChunkWorkflow), batch_activities),
    )


async def connect_with_retry(settings: Settings, runtime: Runtime | None = None) -> Client:
    """Wait for Temporal instead of crashing, so start order does not matter."""
    delay = 1.0
    while True:
        try:
            return await connect(settings, runtime=runtime)
        except RuntimeError as exc:
            log.warning(
                "Temporal at %s unreachable (%s); retrying in %.0f s",
                settings.temporal_address,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def run(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    port = settings.worker_metrics_port
    metrics_address = f"{settings.host}:{port}" if port else None
    runtime = build_runtime(metrics_address)
    if metrics_address:
        log.info("worker metrics on http://%s/metrics", metrics_address)
    client = await connect_with_retry(settings, runtime)
    publisher = KafkaPublisher(settings)
    async with build_http_client(settings) as http:
        try:
            await publisher.check_at_startup()
            backlog = (
                watch_backlog(
                    client,
                    settings.temporal_task_queue,
                    settings.batch_task_queue,
                    runtime.metric_meter,
                    settings.backlog_interval_s,
                )
                if metrics_address
                else contextlib.nullcontext()  # nobody would see the gauges
            )
            async with build_workers(client, settings, http, publisher), backlog:
                # What exists now (modules, clients, the worker) lives as long as the process;
                # frozen, later full collections no longer walk it in the middle of workflow
                # tasks.
                gc.collect()
                gc.freeze()
                log.info(
                    "worker polling task queues %s and %s on %s",
                    settings.temporal_task_queue,
                    settings.batch_task_queue,
                    settings.temporal_address,
                )
                await stop.wait()
                log.info(
                    "stopping: running activities have %g s to finish",
                    settings.worker_graceful_shutdown_s,
                )
        finally:
            await publisher.close()
    log.info("worker stopped")


def return_large_buffers_to_the_os() -> None:
    """Fix glibc's mmap threshold, so every buffer of 128 KiB or more is mapped on its own and
    unmapped when freed.

    By default glibc raises the threshold each time it frees a mapped buffer, so later ones of
    that size come from the heap, whose freed memory is kept. A chunk's texts pass through the
    worker as buffers of a few hundred KB (its workflow task, its history page, its payloads),
    and the heap grew with every chunk held: 100 chunks took 30 MiB more without this. Not
    glibc (macOS, musl): nothing to do.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):
        pass


def main() -> None:
    settings = start_process("worker")
    configure_tracing("huleedu-worker")  # where OTEL_EXPORTER_OTLP_ENDPOINT is set
    return_large_buffers_to_the_os()
    if settings.worker_nice:
        # Batch work is background work: where the worker shares a machine with the API and
        # the Temporal server, they answer people first (docs/performance.md, B4).
        lower_cpu_priority(settings.worker_nice)
    try:
        # libuv's loop: less CPU per HTTP request and Kafka send than asyncio's own.
        uvloop.run(run(settings))
    except (IdempotenceRejected, TemporalConfigError) as exc:
        sys.exit(f"worker: {exc}")
    except MetricsPortUnavailable as exc:
        sys.exit(f"worker: {exc}; set WORKER_METRICS_PORT to a free port, or 0 to turn it off")
    # The SDK's Rust threads can touch the interpreter while it finalizes and abort a worker
    # that already stopped cleanly (temporalio/sdk-python#300): skip finalization instead.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
