"""publish_event against the real embedded broker."""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.events import BROKER_UNAVAILABLE, EventActivities
from activities.kafka import IdempotenceRejected, KafkaPublisher
from devstack.components import free_port
from settings import Settings
from tests.helpers import TopicReader
from workflows.events import SpellcheckRequestedEvent
from workflows.models import PublishEventInput

EVENT = SpellcheckRequestedEvent.for_essay(
    essay_id="essay-7",
    text_storage_id="b" * 32,
    correlation_id="corr-7",
    timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    submission="first-run-id",
)


async def publish(settings: Settings):
    publisher = KafkaPublisher(settings)
    try:
        activities = EventActivities(publisher, settings.kafka_topic)
        return await ActivityEnvironment().run(
            activities.publish_event, PublishEventInput(event=EVENT)
        )
    finally:
        await publisher.close()


async def test_publishes_key_headers_and_body(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    published = await publish(settings)
    assert published.topic == settings.kafka_topic
    async with TopicReader(settings.kafka_bootstrap_servers, settings.kafka_topic) as reader:
        [message] = await reader.read_until(1, timeout_s=15)
    assert message.key == b"essay-7"
    assert message.offset == published.offset
    assert message.value == EVENT.to_bytes()
    assert message.headers == dict(EVENT.headers())


async def test_broker_down_is_retryable(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    with pytest.raises(ApplicationError) as caught:
        await publish(settings)
    assert caught.value.type == BROKER_UNAVAILABLE
    assert not caught.value.non_retryable


async def test_idempotence_rejected_fails_fast_naming_the_setting(
    make_settings: Callable[..., Settings],
) -> None:
    publisher = KafkaPublisher(make_settings(kafka_enable_idempotence=True))
    with pytest.raises(IdempotenceRejected, match="KAFKA_ENABLE_IDEMPOTENCE=false"):
        await publisher.check_at_startup()
    await publisher.close()


async def test_broker_down_at_startup_only_warns(make_settings: Callable[..., Settings]) -> None:
    publisher = KafkaPublisher(make_settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}"))
    await publisher.check_at_startup()  # must not raise: the worker starts anyway
    await publisher.close()
