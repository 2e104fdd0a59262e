"""The API, the worker and the results consumer as real processes, as an operator runs them:
JSON logs to files, and each serving its metrics on a port of its own, scraped over HTTP by the
tests.

Shared by the package's tests (starting the two processes takes seconds); everything runs on a
task queue and a topic of its own, so the figures are this stack's alone.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from devstack.components import (
    REPO_ROOT,
    ManagedProcess,
    async_wait_for_port,
    free_port,
    results_argv,
)
from tests.conftest import HOST, Server
from tests.stack import running_stack

# Two Python processes importing the SDK on a busy 2-core machine: give them time.
PROCESS_START_TIMEOUT_S = 60


@dataclass
class ObservedStack:
    client: Client
    api: httpx.AsyncClient
    broker: Server
    content_store: Server
    task_queue: str
    batch_task_queue: str
    topic: str
    api_log: Path
    worker_log: Path
    api_metrics: str  # URL of the API's /metrics
    worker_metrics: str  # URL of the worker's /metrics
    results_topic: str  # the spell checker's results, read by the results consumer
    results_metrics: str  # URL of the results consumer's /metrics


@pytest.fixture(scope="package")
async def observed(
    dev_env: WorkflowEnvironment,
    broker: Server,
    content_store: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ObservedStack]:
    task_queue = f"tq-{uuid.uuid4()}"
    async with running_stack(
        dev_env,
        broker,
        content_store,
        tmp_path_factory,
        worker_process=True,
        api_metrics_port=free_port(),
        worker_metrics_port=free_port(),
        results_metrics_port=free_port(),
        backlog_interval_s=0.5,
        log_level="INFO",
        log_format="json",
        temporal_task_queue=task_queue,
        temporal_batch_task_queue=f"{task_queue}-bulk",
        worker_nice=0,
    ) as stack:
        settings = stack.settings
        assert stack.worker is not None
        results = ManagedProcess(
            "results",
            results_argv(),
            env={**settings.as_env(), "PYTHONUNBUFFERED": "1"},
            cwd=REPO_ROOT,
            log_path=stack.api_log.with_name("results.log"),
        )
        results.start()
        try:
            for process, port in (
                (stack.worker, settings.worker_metrics_port),
                (stack.api_process, settings.api_metrics_port),
                (results, settings.results_metrics_port),
            ):
                await async_wait_for_port(HOST, port, PROCESS_START_TIMEOUT_S, process)
            yield ObservedStack(
                client=dev_env.client,
                api=stack.api,
                broker=broker,
                content_store=content_store,
                task_queue=task_queue,
                batch_task_queue=settings.batch_task_queue,
                topic=settings.kafka_topic,
                api_log=stack.api_log,
                worker_log=stack.api_log.with_name("worker.log"),
                api_metrics=f"http://{HOST}:{settings.api_metrics_port}/metrics",
                worker_metrics=f"http://{HOST}:{settings.worker_metrics_port}/metrics",
                results_topic=settings.kafka_results_topic,
                results_metrics=f"http://{HOST}:{settings.results_metrics_port}/metrics",
            )
        finally:
            results.stop()
