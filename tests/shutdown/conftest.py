from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from devstack.components import create_topic
from settings import Settings
from tests.conftest import HOST, Server, content_url
from tests.shutdown.deployment import Deployment


@pytest.fixture
async def deployment(
    dev_env: WorkflowEnvironment,
    broker: Server,
    content_store: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Deployment]:
    settings = Settings(
        host=HOST,
        log_level="INFO",
        temporal_address=dev_env.client.service_client.config.target_host,
        temporal_task_queue=f"tq-{uuid.uuid4()}",
        kafka_bootstrap_servers=broker.address,
        kafka_topic=f"essay.spellcheck.requested.v1.{uuid.uuid4().hex[:8]}",
        kafka_enable_idempotence=False,
        kafka_request_timeout_ms=2000,
        activity_heartbeat_timeout_s=3,
        content_service_url=content_url(content_store),
        api_metrics_port=0,  # two APIs and two workers at once in a rolling restart
        worker_metrics_port=0,
        spellcheck_max_requests=0,  # no spell checker answers: essays end at published
    )
    await create_topic(broker.address, settings.kafka_topic)
    deployment = Deployment(settings, dev_env.client, tmp_path_factory.mktemp("deployment"))
    try:
        yield deployment
    finally:
        deployment.stop_all()
