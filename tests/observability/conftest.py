"""The API and the worker as real processes, as an operator runs them: JSON logs to files, and
each serving its metrics on a port of its own, scraped over HTTP by the tests.

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
    api_argv,
    async_wait_for_port,
    create_topic,
    free_port,
    worker_argv,
)
from tests.conftest import HOST, Server, content_url

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


@pytest.fixture(scope="package")
async def observed(
    dev_env: WorkflowEnvironment,
    broker: Server,
    content_store: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ObservedStack]:
    api_port, api_metrics_port, worker_metrics_port = free_port(), free_port(), free_port()
    task_queue = f"tq-{uuid.uuid4()}"
    topic = f"essay.spellcheck.requested.v1.{uuid.uuid4().hex[:8]}"
    await create_topic(broker.address, topic)
    env = {
        "HOST": HOST,
        "PORT": str(api_port),
        "API_METRICS_PORT": str(api_metrics_port),
        "WORKER_METRICS_PORT": str(worker_metrics_port),
        "BACKLOG_INTERVAL_S": "0.5",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "TEMPORAL_BATCH_TASK_QUEUE": f"{task_queue}-bulk",
        "KAFKA_BOOTSTRAP_SERVERS": broker.address,
        "KAFKA_TOPIC": topic,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "KAFKA_REQUEST_TIMEOUT_MS": "2000",
        "ACTIVITY_HEARTBEAT_TIMEOUT_S": "3",
        "CONTENT_SERVICE_URL": content_url(content_store),
        "WORKER_NICE": "0",
        "PYTHONUNBUFFERED": "1",  # lines reach the files as they are written
    }
    logs = tmp_path_factory.mktemp("observed")
    worker = ManagedProcess(
        "worker", worker_argv(), env=env, cwd=REPO_ROOT, log_path=logs / "worker.log"
    )
    api = ManagedProcess("api", api_argv(), env=env, cwd=REPO_ROOT, log_path=logs / "api.log")
    try:
        worker.start()
        api.start()
        for process, port in (
            (worker, worker_metrics_port),
            (api, api_port),
            (api, api_metrics_port),
        ):
            await async_wait_for_port(HOST, port, PROCESS_START_TIMEOUT_S, process)
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{api_port}", timeout=10) as http:
            yield ObservedStack(
                client=dev_env.client,
                api=http,
                broker=broker,
                content_store=content_store,
                task_queue=task_queue,
                batch_task_queue=env["TEMPORAL_BATCH_TASK_QUEUE"],
                topic=topic,
                api_log=logs / "api.log",
                worker_log=logs / "worker.log",
                api_metrics=f"http://{HOST}:{api_metrics_port}/metrics",
                worker_metrics=f"http://{HOST}:{worker_metrics_port}/metrics",
            )
    finally:
        api.stop()
        worker.stop()
