"""The whole system on real parts: dev server, broker, content store, worker, API (hypercorn).

`stack` is a module-scoped fixture; a test package uses it by importing it into its conftest,
and may override `dev_env` there (e.g. with shrunk server limits) or `stack_overrides` (settings
the API and the worker get, e.g. smaller request limits).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.kafka import KafkaPublisher
from devstack.components import ManagedProcess, api_argv, create_topic, free_port
from settings import Settings
from tests.conftest import HOST, Server, content_url
from worker import build_http_client, build_worker


@dataclass
class Stack:
    settings: Settings
    client: Client
    api: httpx.AsyncClient
    broker: Server
    content_store: Server


def api_env(settings: Settings, overrides: dict[str, object]) -> dict[str, str]:
    return {
        "HOST": settings.host,
        "PORT": str(settings.port),
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "LOG_LEVEL": "WARNING",
        **{name.upper(): str(value) for name, value in overrides.items()},
    }


@pytest.fixture(scope="module")
async def stack(
    dev_env: WorkflowEnvironment,
    broker: Server,
    content_store: Server,
    stack_overrides: dict[str, object],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    settings = Settings(
        host=HOST,
        port=free_port(),
        temporal_address=dev_env.client.service_client.config.target_host,
        temporal_task_queue=f"tq-{uuid.uuid4()}",
        kafka_bootstrap_servers=broker.address,
        kafka_topic=f"essay.spellcheck.requested.v1.{uuid.uuid4().hex[:8]}",
        kafka_enable_idempotence=False,
        kafka_request_timeout_ms=2000,
        activity_heartbeat_timeout_s=3,
        content_service_url=content_url(content_store),
        **stack_overrides,
    )
    await create_topic(broker.address, settings.kafka_topic)
    log = tmp_path_factory.mktemp("api") / "api.log"
    api = Server(
        ManagedProcess("api", api_argv(), env=api_env(settings, stack_overrides), log_path=log),
        settings.port,
    )
    await api.start()
    publisher = KafkaPublisher(settings)
    try:
        async with (
            build_http_client(settings) as http,
            build_worker(dev_env.client, settings, http, publisher),
            httpx.AsyncClient(base_url=f"http://{api.address}", timeout=10) as api_client,
        ):
            yield Stack(settings, dev_env.client, api_client, broker, content_store)
    finally:
        await publisher.close()
        api.stop()
