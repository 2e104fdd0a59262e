"""The API on SIGTERM: it stops listening at once and answers the requests already in flight.

Hypercorn's graceful shutdown, in the mode `hypercorn_config.py` runs it (`workers = 0`: one
process, no supervisor). Two requests, a single essay and a new batch, are held in flight across
the SIGTERM: their headers read by the API, their bodies sent only once it has stopped listening.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from activities.kafka import KafkaPublisher
from tests.helpers import TopicReader, expected_event_ids, wait_until
from tests.shutdown.deployment import Deployment, exit_code, refuses_connections, sigterm
from tests.shutdown.held_request import HeldRequest
from worker import build_http_client, build_workers
from workflows.batch import BatchWorkflow

BATCH_ESSAYS = 5
# hypercorn_config.py's graceful_timeout, plus a slow machine's process exit.
EXIT_WITHIN_S = 10 + 20


async def test_sigterm_answers_the_requests_in_flight_and_refuses_new_ones(
    deployment: Deployment,
) -> None:
    settings = deployment.settings
    publisher = KafkaPublisher(settings)
    try:
        async with (
            build_http_client(settings) as http,
            # In this process: the test is about the API; creating a batch needs a worker.
            build_workers(deployment.client, settings, http, publisher),
        ):
            await drain_and_check(deployment)
    finally:
        await publisher.close()


async def drain_and_check(deployment: Deployment) -> None:
    api = await deployment.start_api()
    batch_id = f"drain-{uuid.uuid4().hex[:8]}"
    single = HeldRequest(api.port, "/v1/trigger-spellcheck", {"text": "in flight at SIGTERM"})
    batch = HeldRequest(
        api.port,
        "/v1/batch",
        {
            "batch_id": batch_id,
            "essays": [{"text": f"in flight {n}"} for n in range(BATCH_ESSAYS)],
        },
    )
    await single.begin()
    await batch.begin()

    sigterm(api.process)

    async def stopped_listening() -> bool:
        return await refuses_connections(api.port)

    await wait_until(stopped_listening, timeout_s=30, what="the API to stop listening")
    # A new request is refused before anything is sent: safe to send elsewhere.
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=api.url) as client:
            await client.post("/v1/trigger-spellcheck", json={"text": "too late"})

    # The requests in flight are answered all the same.
    single_status, single_body = await single.finish()
    batch_status, batch_body = await batch.finish()
    assert (single_status, batch_status) == (202, 202), (single_body, batch_body)
    assert batch_body["essay_count"] == BATCH_ESSAYS
    assert await exit_code(api.process, within_s=EXIT_WITHIN_S) == 0, deployment.log(api.process)

    # And what they accepted goes through: the essay's event, and the batch's once triggered.
    parent = deployment.client.get_workflow_handle_for(BatchWorkflow.run, f"batch-{batch_id}")
    await parent.execute_update(BatchWorkflow.trigger)
    expected = await expected_event_ids(
        deployment.client, singles=[single_body["essay_id"]], batch_ids=[batch_id]
    )
    assert expected.keys() == {single_body["essay_id"], *batch_body["essay_ids"]}
    settings = deployment.settings
    async with TopicReader(settings.kafka_bootstrap_servers, settings.kafka_topic) as reader:
        received = await reader.read_keys({e.encode() for e in expected}, timeout_s=60)
    assert {k.decode(): m.body["event_id"] for k, m in received.items()} == expected
