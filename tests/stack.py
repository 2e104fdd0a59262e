"""The whole system on real parts: dev server, broker, content store, worker, API (hypercorn).

`stack` is a module-scoped fixture; a test package uses it by importing it into its conftest,
and may override `dev_env` there (e.g. with shrunk server limits) or `stack_overrides` (settings
the API and the worker get, e.g. smaller request limits). `running_stack` starts one with other
settings (API keys, a rate limit) for a fixture of its own, and can run the worker as a process
of its own, which a test may then kill.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.kafka import KafkaPublisher
from devstack.components import (
    REPO_ROOT,
    ManagedProcess,
    api_argv,
    create_topic,
    free_port,
    worker_argv,
)
from settings import Settings
from tests.conftest import HOST, Server, content_url
from tests.helpers import wait_until
from worker import build_http_client, build_workers

# A (re)started worker must poll within this; the machine may be busy with other tests.
WORKER_READY_S = 90


@dataclass
class Stack:
    settings: Settings
    client: Client
    api: httpx.AsyncClient
    broker: Server
    content_store: Server
    api_log: Path
    api_process: ManagedProcess
    worker: ManagedProcess | None = None  # when the worker runs as a process of its own

    async def kill_worker(self) -> None:
        """SIGKILL the worker process, start another and wait until it polls."""
        assert self.worker is not None, "this stack's worker runs in the test process"
        self.worker.kill()
        await start_worker(self.worker, self.client, self.settings)


async def pollers(client: Client, settings: Settings, task_queue: str) -> list[str]:
    """Identities (pid@host) of the workers polling `task_queue` for workflow tasks."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=settings.temporal_namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return [p.identity for p in response.pollers]


async def start_worker(worker: ManagedProcess, client: Client, settings: Settings) -> None:
    """Start a worker process and wait until Temporal sees it polling both task queues."""
    worker.start()
    identity = f"{worker.pid}@"

    async def polling() -> bool:
        assert worker.alive, f"the worker exited with {worker.returncode}"
        try:
            queues = (settings.temporal_task_queue, settings.batch_task_queue)
            return all(
                [
                    any(p.startswith(identity) for p in await pollers(client, settings, q))
                    for q in queues
                ]
            )
        except (RPCError, RuntimeError):  # Temporal itself is still starting
            return False

    await wait_until(polling, timeout_s=WORKER_READY_S, what="the worker to poll")


@contextlib.asynccontextmanager
async def running_stack(
    dev_env: WorkflowEnvironment,
    broker: Server,
    content_store: Server,
    tmp_path_factory: pytest.TempPathFactory,
    worker_process: bool = False,
    **overrides: object,
) -> AsyncIterator[Stack]:
    """The API (hypercorn, with `overrides` as its settings) and a worker (in this process, or
    with `worker_process` a process of its own), on the servers."""
    values: dict[str, object] = {
        "host": HOST,
        "log_level": "WARNING",
        "port": free_port(),
        "temporal_address": dev_env.client.service_client.config.target_host,
        "temporal_task_queue": f"tq-{uuid.uuid4()}",
        "kafka_bootstrap_servers": broker.address,
        "kafka_topic": f"essay.spellcheck.requested.v1.{uuid.uuid4().hex[:8]}",
        "kafka_enable_idempotence": False,
        "kafka_request_timeout_ms": 2000,
        "activity_heartbeat_timeout_s": 3,
        "content_service_url": content_url(content_store),
        # No fixed ports: other test runs may share the machine.
        "api_metrics_port": 0,
        "worker_metrics_port": 0,
        # No spell checker answers here: essays end at published. The results tests (and
        # any test that says so) follow them.
        "spellcheck_max_requests": 0,
        "kafka_results_topic": f"essay.spellcheck.completed.v1.{uuid.uuid4().hex[:8]}",
        "kafka_batch_topic": f"batch.spellcheck.completed.v1.{uuid.uuid4().hex[:8]}",
    }
    settings = Settings(**{**values, **overrides})
    app_env = {**settings.as_env(), "PYTHONUNBUFFERED": "1"}
    for topic in (settings.kafka_topic, settings.kafka_results_topic, settings.kafka_batch_topic):
        await create_topic(broker.address, topic)
    log = tmp_path_factory.mktemp("api") / "api.log"
    api = Server(
        ManagedProcess("api", api_argv(), env=app_env, cwd=REPO_ROOT, log_path=log),
        settings.port,
    )
    await api.start()
    publisher = KafkaPublisher(settings)
    worker = None
    try:
        async with contextlib.AsyncExitStack() as running:
            if worker_process:
                worker_log = log.with_name("worker.log")
                worker = ManagedProcess(
                    "worker", worker_argv(), env=app_env, cwd=REPO_ROOT, log_path=worker_log
                )
                await start_worker(worker, dev_env.client, settings)
            else:
                http = await running.enter_async_context(build_http_client(settings))
                await running.enter_async_context(
                    build_workers(dev_env.client, settings, http, publisher)
                )
            api_client = await running.enter_async_context(
                httpx.AsyncClient(base_url=f"http://{api.address}", timeout=10)
            )
            yield Stack(
                settings,
                dev_env.client,
                api_client,
                broker,
                content_store,
                log,
                api.process,
                worker,
            )
    finally:
        if worker is not None:
            worker.stop()
        await publisher.close()
        api.stop()


@pytest.fixture(scope="module")
async def stack(
    dev_env: WorkflowEnvironment,
    broker: Server,
    content_store: Server,
    stack_overrides: dict[str, object],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    async with running_stack(
        dev_env, broker, content_store, tmp_path_factory, **stack_overrides
    ) as started:
        yield started
