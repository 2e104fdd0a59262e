"""publish_event against the real embedded broker."""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.events import BROKER_UNAVAILABLE, EventActivities
from activities.kafka import IdempotenceRejected, KafkaPublisher
from contracts.batch import PublishChunkInput
from contracts.essay import PublishEventInput
from contracts.events import SpellcheckRequestedEvent
from devstack.components import ManagedProcess, broker_argv, free_port
from settings import Settings
from tests.conftest import HOST, Server
from tests.helpers import TopicReader, wait_until

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


class OneAtATime(KafkaPublisher):
    """Records every producer that started while another was still alive (started, its stop()
    not finished), and makes each stop() take a second, as a flush of queued records does."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.alive = 0
        self.overlaps = 0
        self.started = 0

    def _build(self) -> AIOKafkaProducer:
        producer = super()._build()
        start, stop = producer.start, producer.stop
        state = {"started": False}

        async def tracked_start() -> None:
            await start()
            state["started"] = True
            self.started += 1
            self.overlaps += self.alive > 0
            self.alive += 1

        async def tracked_stop() -> None:
            if state["started"]:
                flushed = asyncio.get_running_loop().create_future()
                asyncio.get_running_loop().call_later(1.0, flushed.set_result, None)
                await flushed
            await stop()
            if state["started"]:
                self.alive -= 1
                state["started"] = False

        producer.start, producer.stop = tracked_start, tracked_stop
        return producer


def event_for(n: int) -> PublishEventInput:
    return PublishEventInput(
        event=EVENT.model_copy(
            update={"entity_ref": EVENT.entity_ref.model_copy(update={"entity_id": f"e-{n}"})}
        )
    )


async def test_a_new_producer_starts_only_once_the_discarded_one_has_stopped(
    make_settings: Callable[..., Settings], tmp_path
) -> None:
    # The outage drill: a producer in use, the broker killed and started again. The discarded
    # producer still sends what it had queued while it stops; a second producer writing beside
    # it raced for the same offsets on the embedded broker and lost an acknowledged event.
    port = free_port()
    broker = Server(
        ManagedProcess("broker", broker_argv(port, HOST), log_path=tmp_path / "b.log"), port
    )
    await broker.start()
    settings = make_settings(kafka_bootstrap_servers=broker.address, kafka_request_timeout_ms=1000)
    publisher = OneAtATime(settings)
    activities = EventActivities(publisher, settings.kafka_topic)
    env = ActivityEnvironment()
    try:
        await env.run(activities.publish_event, event_for(0))
        broker.stop()
        with pytest.raises(ApplicationError):
            await env.run(activities.publish_event, event_for(1))
        await broker.start()

        async def retried(n: int) -> None:
            async def sent() -> bool:
                try:
                    await env.run(activities.publish_event, event_for(n))
                except ApplicationError:
                    return False
                return True

            await wait_until(sent, timeout_s=30, what=f"event {n} acknowledged")

        await asyncio.gather(*(retried(n) for n in range(1, 6)))
        assert publisher.started >= 2  # the producer was replaced
        assert publisher.overlaps == 0, "a producer started while a discarded one still sent"
        async with TopicReader(broker.address, settings.kafka_topic) as reader:
            received = await reader.read_keys({f"e-{n}".encode() for n in range(1, 6)}, 15)
        assert len(received) == 5
    finally:
        await publisher.close()
        broker.stop()


class HandOverWatch(KafkaPublisher):
    """Tells the test when the first record has been handed to the producer."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.handed = asyncio.Event()

    def _build(self) -> AIOKafkaProducer:
        producer = super()._build()
        send = producer.send

        async def watched_send(*args, **kwargs):
            delivery = await send(*args, **kwargs)
            self.handed.set()
            return delivery

        producer.send = watched_send
        return producer


async def test_a_cancel_during_a_chunks_publish_reports_every_event_handed_over(
    make_settings: Callable[..., Settings],
) -> None:
    # aiokafka cannot take back a record it was handed: such an essay's event goes out, so it
    # must come back as published, never be left for the chunk to call cancelled.
    settings = make_settings()
    publisher = HandOverWatch(settings)
    activities = EventActivities(publisher, settings.kafka_topic)
    batch_id = f"cancel-{uuid.uuid4().hex[:6]}"
    events = [
        EVENT.model_copy(
            update={
                "entity_ref": EVENT.entity_ref.model_copy(
                    update={"entity_id": f"c-{n}", "parent_id": batch_id}
                )
            }
        )
        for n in range(125)
    ]
    env = ActivityEnvironment()
    try:
        running = asyncio.create_task(
            env.run(activities.publish_chunk, PublishChunkInput(events=events))
        )
        await asyncio.wait_for(publisher.handed.wait(), timeout=15)
        env.cancel()
        result = await running
        await publisher.close()  # sends whatever was still queued
        # One partition: everything sent before a last marker is read before it.
        marker = KafkaPublisher(settings)
        await (await marker.producer()).send_and_wait(settings.kafka_topic, b"end", key=b"end")
        await marker.close()
        async with TopicReader(settings.kafka_bootstrap_servers, settings.kafka_topic) as reader:
            await reader.read_keys({b"end"}, timeout_s=15)
        on_topic = {m.key.decode() for m in reader.messages} - {"end"}
        assert on_topic == set(result.published)
        assert result.published  # the cancel came after the first hand-over
    finally:
        await publisher.close()
