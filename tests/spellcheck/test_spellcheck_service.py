"""The embedded spell checker on the real broker and content store: requests in as our worker
sends them, results out in HuleEdu's shape, read back as a tolerant reader reads them."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.events import SpellcheckRequestedEvent
from contracts.results import (
    MAX_RESULT_TEXT,
    RESULT_TOPIC,
    UnreadableResult,
    parse_result,
)
from devstack.components import REPO_ROOT, ManagedProcess, create_topic, spellchecker_argv
from settings import Settings
from tests.conftest import Server, content_url
from tests.helpers import TopicReader, wait_until


@pytest.fixture(scope="module")
async def checker(broker: Server, content_store: Server, tmp_path_factory) -> AsyncIterator[str]:
    """The requests topic the running spell checker consumes."""
    topic = f"requests-{uuid.uuid4().hex[:8]}"
    await create_topic(broker.address, topic)
    await create_topic(broker.address, RESULT_TOPIC)
    settings = Settings(
        kafka_bootstrap_servers=broker.address,
        kafka_topic=topic,
        content_service_url=content_url(content_store),
        log_format="text",
    )
    process = ManagedProcess(
        "spellchecker",
        spellchecker_argv(),
        env={**settings.as_env(), "PYTHONUNBUFFERED": "1"},
        cwd=REPO_ROOT,
        log_path=tmp_path_factory.mktemp("spellchecker") / "spellchecker.log",
    )
    process.start()

    async def consuming() -> bool:
        assert process.alive, process.log_path.read_text()
        return "consuming" in process.log_path.read_text()

    await wait_until(consuming, timeout_s=60, what="the spell checker to consume")
    yield topic
    process.stop()


async def store(content_store: Server, text: str) -> str:
    async with httpx.AsyncClient() as http:
        answer = await http.post(content_url(content_store), content=text.encode())
    return answer.json()["storage_id"]


async def request(broker: Server, topic: str, essay_id: str, storage_id: str, **extra) -> str:
    correlation_id = str(uuid.uuid4())
    event = SpellcheckRequestedEvent.for_essay(
        essay_id=essay_id,
        text_storage_id=storage_id,
        correlation_id=correlation_id,
        timestamp=datetime.now(UTC),
        submission="run-1",
        **extra,
    )
    producer = AIOKafkaProducer(bootstrap_servers=broker.address)
    await producer.start()
    try:
        await producer.send_and_wait(topic, event.to_bytes(), key=event.key)
    finally:
        await producer.stop()
    return correlation_id


async def result_of(broker: Server, essay_id: str):
    async with TopicReader(broker.address, RESULT_TOPIC) as reader:
        found = await reader.read_keys({essay_id.encode()}, timeout_s=60)
    return found[essay_id.encode()]


async def test_a_batch_essay_is_corrected_stored_and_answered(
    checker: str, broker: Server, content_store: Server
) -> None:
    essay_id, batch_id = f"e-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    storage_id = await store(content_store, "Helo wrold, this is my frist essay.")
    correlation_id = await request(broker, checker, essay_id, storage_id, batch_id=batch_id)
    message = await result_of(broker, essay_id)
    body = json.loads(message.value)
    assert body["event"] == "huleedu.essay.spellcheck.completed.v1"
    assert body["entity_ref"] == {
        "entity_id": essay_id,
        "entity_type": "essay",
        "parent_id": batch_id,
    }
    assert body["status"] == "spellchecked_success"
    assert body["system_metadata"]["correlation_id"] == correlation_id
    result = parse_result(message.value)
    assert result.corrections_made == 3
    async with httpx.AsyncClient() as http:
        corrected = await http.get(f"{content_url(content_store)}/{result.corrected_storage_id}")
    assert corrected.text == "Help world, this is my first essay."


async def test_a_text_the_store_does_not_have_is_a_failed_result(
    checker: str, broker: Server
) -> None:
    essay_id = f"e-{uuid.uuid4().hex[:8]}"
    await request(broker, checker, essay_id, "0" * 32)
    result = parse_result((await result_of(broker, essay_id)).value)
    assert result.status == "spellcheck_failed"
    assert result.entity_ref.parent_id is None
    assert "not found" in (result.error or "")


def test_a_tolerant_reader_ignores_unknown_fields_and_caps_what_it_keeps() -> None:
    body = {
        "event": "huleedu.essay.spellcheck.completed.v1",
        "entity_ref": {"entity_id": "anna-1", "entity_type": "essay", "parent_id": "class-9b"},
        "status": "spellcheck_failed",
        "system_metadata": {"correlation_id": "c1", "error_info": {"why": "x" * 5000}},
        "a_field_from_the_future": [1, 2, 3],
    }
    result = parse_result(json.dumps(body).encode())
    assert result.essay_id == "anna-1" and result.error is not None
    assert len(result.error) == MAX_RESULT_TEXT


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"not json",
        b'{"event": "huleedu.essay.spellcheck.completed.v1"}',
        json.dumps(
            {
                "entity_ref": {"entity_id": "a"},
                "status": "spellchecked_success",
                "system_metadata": {"correlation_id": "c"},
            }
        ).encode(),
    ],
    ids=["empty", "not json", "no entity", "success without its text"],
)
def test_a_message_that_is_not_a_usable_result_says_why(raw: bytes | None) -> None:
    with pytest.raises(UnreadableResult):
        parse_result(raw)
