"""The outage drill of docs/operations.md, as a test: a worker whose producer is in use, the
broker killed, essays posted, the broker started again while their sends are still pending.
Every essay whose status says `published` must be on the topic."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.kafka import KafkaPublisher
from api.essays.start import start_essay_workflow
from contracts.essay import EssayState
from contracts.ids import essay_workflow_id
from devstack.components import ManagedProcess, broker_argv, create_topic, free_port
from settings import Settings
from tests.conftest import HOST, Server
from tests.helpers import TopicReader, wait_until
from worker import build_http_client, build_workers
from workflows.essay import EssayWorkflow

pytestmark = pytest.mark.faults

DURING = 20


async def test_the_outage_drill_loses_no_acknowledged_event(
    dev_env: WorkflowEnvironment,
    content_store: Server,
    make_settings: Callable[..., Settings],
    tmp_path,
) -> None:
    port = free_port()
    argv = broker_argv(port, HOST)
    broker = Server(ManagedProcess("broker", argv, log_path=tmp_path / "broker.log"), port)
    await broker.start()
    # The production timeout: the broker is back before the pending sends give up.
    settings = make_settings(
        kafka_bootstrap_servers=broker.address, kafka_request_timeout_ms=10_000
    )
    await create_topic(broker.address, settings.kafka_topic)
    client = dev_env.client
    publisher = KafkaPublisher(settings)
    label = uuid.uuid4().hex[:6]

    async def post(n: int) -> str:
        essay_id = f"drill-{label}-{n}"
        await start_essay_workflow(
            client,
            task_queue=settings.temporal_task_queue,
            essay_id=essay_id,
            text=f"drill essay {n}",
            correlation_id=f"corr-{n}",
        )
        return essay_id

    async def state(essay_id: str) -> EssayState:
        handle = client.get_workflow_handle_for(EssayWorkflow.run, essay_workflow_id(essay_id))
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            return (await handle.result()).state
        return (await handle.query(EssayWorkflow.status)).state

    try:
        async with (
            build_http_client(settings) as http,
            build_workers(client, settings, http, publisher),
        ):
            before = [await post(n) for n in range(3)]
            async with TopicReader(broker.address, settings.kafka_topic) as reader:
                await reader.read_keys({e.encode() for e in before}, timeout_s=30)

            broker.stop()  # as `kill <pid>` does: SIGTERM
            during = [await post(n) for n in range(3, 3 + DURING)]

            async def all_stored() -> bool:
                return all([await state(e) == EssayState.STORED for e in during])

            await wait_until(all_stored, timeout_s=30, what="the essays to wait on the broker")
            await broker.start()

            async def all_published() -> bool:
                return all([await state(e) == EssayState.PUBLISHED for e in during])

            await wait_until(all_published, timeout_s=120, what="every essay published")
            async with TopicReader(broker.address, settings.kafka_topic) as reader:
                received = await reader.read_keys({e.encode() for e in during}, timeout_s=30)
            assert len(received) == DURING
    finally:
        await publisher.close()
        broker.stop()
