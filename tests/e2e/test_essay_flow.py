"""One essay from HTTP to Kafka through Temporal, and nothing lost while the broker is down."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.client import WorkflowExecutionStatus

from contracts.essay import PUBLISH_SPELLCHECK_REQUESTED, STORE_ESSAY
from contracts.events import EVENT_TYPE
from tests.helpers import TopicReader, expected_event_ids, wait_until
from tests.stack import Stack

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
        message = (await r.read_keys({essay_id.encode()}, timeout_s=30))[essay_id.encode()]
    event = message.body
    [event_id] = (await expected_event_ids(stack.client, singles=[essay_id])).values()
    storage_id = event["text_storage_id"]
    assert event == {
        "event_id": event_id,
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
        "event_id": event_id.encode(),
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
    assert status["event_id"] == event_id


async def post_essays(stack: Stack, count: int, label: str) -> list[str]:
    essay_ids = []
    for n in range(count):
        response = await stack.api.post(
            "/v1/trigger-spellcheck", json={"text": f"{label} essay {n} {uuid.uuid4()}"}
        )
        assert response.status_code == 202
        essay_ids.append(response.json()["essay_id"])
    return essay_ids


async def wait_until_all_retrying(stack: Stack, essay_ids: list[str]) -> None:
    """An outage lasts until every essay has failed its current step at least twice."""

    async def all_retrying() -> bool:
        for essay_id in essay_ids:
            status = (await stack.api.get(f"/v1/essays/{essay_id}/status")).json()
            if (status["attempts"] or 0) < 2:
                return False
        return True

    await wait_until(all_retrying, timeout_s=60, what="two failed attempts per essay")


async def read_events(stack: Stack, essay_ids: list[str]) -> dict[str, dict]:
    async with TopicReader(stack.settings.kafka_bootstrap_servers, stack.settings.kafka_topic) as r:
        messages = await r.read_keys({e.encode() for e in essay_ids}, timeout_s=90)
    received = {key.decode(): m.body for key, m in messages.items()}
    expected = await expected_event_ids(stack.client, singles=essay_ids)
    for essay_id in essay_ids:
        assert received[essay_id]["event_id"] == expected[essay_id]
    return received


async def test_essays_posted_while_the_broker_is_down_all_arrive(stack: Stack) -> None:
    stack.broker.stop()
    try:
        essay_ids = await post_essays(stack, 5, "broker outage")
        await wait_until_all_retrying(stack, essay_ids)
        status = (await stack.api.get(f"/v1/essays/{essay_ids[0]}/status")).json()
        assert status["state"] == "stored"
        assert status["retrying_step"] == PUBLISH_SPELLCHECK_REQUESTED
        assert status["attempts"] >= 2
        assert status["last_error"].startswith("the broker")
    finally:
        await stack.broker.start()

    # The embedded broker restarted empty; the held-back events are produced into a new topic.
    await read_events(stack, essay_ids)


async def test_essays_posted_while_the_content_store_is_down_all_arrive(stack: Stack) -> None:
    stack.content_store.stop()
    try:
        essay_ids = await post_essays(stack, 3, "content outage")
        await wait_until_all_retrying(stack, essay_ids)
        status = (await stack.api.get(f"/v1/essays/{essay_ids[0]}/status")).json()
        assert status["state"] == "received"
        assert status["retrying_step"] == STORE_ESSAY
        assert status["last_error"].startswith("the Content Service could not be reached")
    finally:
        await stack.content_store.start()

    received = await read_events(stack, essay_ids)
    async with httpx.AsyncClient() as http:
        for n, essay_id in enumerate(essay_ids):
            stored = await http.get(
                f"{stack.settings.content_service_url}/{received[essay_id]['text_storage_id']}"
            )
            assert stored.text.startswith(f"content outage essay {n} ")
