"""Batches run on a task queue of their own: single essays that no worker has reached yet stand
in no batch's way (a batch's create and trigger are updates the API waits for)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.kafka import KafkaPublisher
from api.app import create_app
from contracts.ids import essay_workflow_id
from settings import Settings
from tests.conftest import Server
from tests.helpers import TopicReader
from worker import build_http_client, build_workers


async def test_a_batch_is_published_while_single_essays_wait_unpolled(
    dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings], broker: Server
) -> None:
    api_settings = make_settings()
    # The worker polls the batches' queue and another one: nothing runs the API's single
    # essays, as when thousands of them are queued ahead of whatever comes next.
    worker_settings = make_settings(
        temporal_task_queue=f"elsewhere-{uuid.uuid4()}",
        temporal_batch_task_queue=api_settings.batch_task_queue,
    )
    app = create_app(temporal_client=dev_env.client, settings=api_settings)
    publisher = KafkaPublisher(worker_settings)
    try:
        async with (
            build_http_client(worker_settings) as http,
            build_workers(dev_env.client, worker_settings, http, publisher),
            app.test_app() as test_app,
            TopicReader(broker.address, api_settings.kafka_topic) as topic,
        ):
            api = test_app.test_client()
            single = await api.post("/v1/trigger-spellcheck", json={"text": "waits its turn"})
            assert single.status_code == 202
            created = await api.post(
                "/v1/batch", json={"essays": [{"text": f"essay {n}"} for n in range(3)]}
            )
            assert created.status_code == 202, await created.get_data(as_text=True)
            batch = await created.get_json()
            triggered = await api.post(f"/v1/batch/{batch['batch_id']}/spellcheck")
            assert triggered.status_code == 202, await triggered.get_data(as_text=True)

            keys = {essay_id.encode() for essay_id in batch["essay_ids"]}
            published = await topic.read_keys(keys, timeout_s=60)
            assert set(published) == keys

        essay_id = (await single.get_json())["essay_id"]
        waiting = dev_env.client.get_workflow_handle(essay_workflow_id(essay_id))
        assert (await waiting.describe()).status == WorkflowExecutionStatus.RUNNING
        assert essay_id.encode() not in {m.key for m in topic.messages}
        await waiting.terminate("the test is over")
    finally:
        await publisher.close()


def test_the_batch_queue_defaults_apart_and_must_stay_apart(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(temporal_task_queue="essays")
    assert settings.batch_task_queue == "essays-batches"
    assert make_settings(temporal_batch_task_queue="bulk").batch_task_queue == "bulk"
    with pytest.raises(ValueError, match="must differ from TEMPORAL_TASK_QUEUE"):
        make_settings(temporal_task_queue="essays", temporal_batch_task_queue="essays")
