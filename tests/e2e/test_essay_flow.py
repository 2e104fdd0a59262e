"""One essay from HTTP to Kafka through Temporal, and nothing lost while the broker is down."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.client import WorkflowExecutionStatus

from tests.e2e.conftest import Stack
from tests.helpers import TopicReader, pending_attempts, wait_until
from workflows.events import EVENT_TYPE, event_id_for
from workflows.models import PUBLISH_SPELLCHECK_REQUESTED

TEXT = 'Helo wrold.\nThis essay has ünïcode, emoji 🙂, "quotes" and a trailing newline\n'


async def test_an_essay_reaches_kafka_and_its_text_reads_back(stack: Stack) -> None:
    posted_at = datetime.now(UTC)
    response = await stack.api.post(
        "/v1/trigger-spellcheck", json={"text": TEXT}, headers={"X-Correlation-ID": "corr-e2e-1"}
    )
    assert response.status_code == 202
    body = response.json()
    essay_id = body["essay_id"]
    assert body == {
        "message": "Spellcheck triggered",
        "essay_id": essay_id,
        "correlation_id": "corr-e2e-1",
    }

    async with TopicReader(stack.settings.kafka_bootstrap_servers, stack.settings.kafka_topic) as r:
        messages = await r.read_until(1, timeout_s=30)
    [message] = [m for m in messages if m.key == essay_id.encode()]
    event = message.body
    storage_id = event["text_storage_id"]
    assert event == {
        "event_id": str(event_id_for(essay_id)),
        "event": EVENT_TYPE,
        "entity_ref": {"entity_id": essay_id, "entity_type": "essay"},
        "status": "pending_spellcheck",
        "system_metadata": {
            "timestamp": event["system_metadata"]["timestamp"],
            "correlation_id": "corr-e2e-1",
        },
        "text_storage_id": storage_id,
    }
    stamp = datetime.fromisoformat(event["system_metadata"]["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert posted_at - timedelta(seconds=5) <= stamp <= datetime.now(UTC)
    assert message.headers == {
        "event_id": str(event_id_for(essay_id)).encode(),
        "event_type": EVENT_TYPE.encode(),
        "correlation_id": b"corr-e2e-1",
        "source_service": b"huleedu-batch-service",
    }

    async with httpx.AsyncClient() as http:
        stored = await http.get(f"{stack.settings.content_service_url}/{storage_id}")
    assert stored.content == TEXT.encode()

    handle = stack.client.get_workflow_handle(f"essay-{essay_id}")
    await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    status = (await stack.api.get(f"/v1/essays/{essay_id}/status")).json()
    assert status["state"] == "published"
    assert status["text_storage_id"] == storage_id
    assert status["event_id"] == str(event_id_for(essay_id))


async def test_essays_posted_while_the_broker_is_down_all_arrive(stack: Stack) -> None:
    stack.broker.stop()
    try:
        essay_ids = []
        for n in range(5):
            response = await stack.api.post(
                "/v1/trigger-spellcheck", json={"text": f"outage essay {n} {uuid.uuid4()}"}
            )
            assert response.status_code == 202
            essay_ids.append(response.json()["essay_id"])

        # The outage lasts until every essay has failed to publish at least twice.
        async def all_retrying() -> bool:
            for essay_id in essay_ids:
                if await pending_attempts(stack.client, f"essay-{essay_id}") < 2:
                    return False
            return True

        await wait_until(all_retrying, timeout_s=60, what="two failed publish attempts per essay")
        status = (await stack.api.get(f"/v1/essays/{essay_ids[0]}/status")).json()
        assert status["state"] == "stored"
        assert status["retrying_step"] == PUBLISH_SPELLCHECK_REQUESTED
        assert status["last_error"]
    finally:
        await stack.broker.start()

    # The embedded broker restarted empty; the events are produced again into a new topic.
    async with TopicReader(stack.settings.kafka_bootstrap_servers, stack.settings.kafka_topic) as r:
        messages = await r.read_until(len(essay_ids), timeout_s=90)
    received = {m.key.decode(): m.body for m in messages}
    assert set(received) == set(essay_ids)
    for essay_id in essay_ids:
        assert received[essay_id]["event_id"] == str(event_id_for(essay_id))
