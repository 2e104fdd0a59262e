"""Publish the `essay.spellcheck.requested.v1` event."""

from __future__ import annotations

from aiokafka.errors import KafkaError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.kafka import IdempotenceRejected, KafkaPublisher
from workflows.models import PUBLISH_SPELLCHECK_REQUESTED, PublishedEvent, PublishEventInput

BROKER_UNAVAILABLE = "BrokerUnavailable"


class EventActivities:
    def __init__(self, publisher: KafkaPublisher, topic: str) -> None:
        self._publisher = publisher
        self._topic = topic

    @activity.defn(name=PUBLISH_SPELLCHECK_REQUESTED)
    async def publish_event(self, inp: PublishEventInput) -> PublishedEvent:
        event = inp.event
        try:
            producer = await self._publisher.producer()
        except IdempotenceRejected as exc:
            # Still retryable: once the operator fixes the setting and restarts the worker,
            # the essay goes out; failing it here would lose it.
            raise ApplicationError(str(exc), type="KafkaMisconfigured") from exc
        except KafkaError as exc:
            raise ApplicationError(
                f"Kafka unreachable: {type(exc).__name__}: {exc}", type=BROKER_UNAVAILABLE
            ) from None
        try:
            metadata = await producer.send_and_wait(
                self._topic, value=event.to_bytes(), key=event.key, headers=event.headers()
            )
        except KafkaError as exc:
            self._publisher.discard(producer)
            # No chained cause, so the failure stays within what the server keeps (~4 KB).
            raise ApplicationError(
                f"Kafka did not acknowledge the event: {type(exc).__name__}: {exc}",
                type=BROKER_UNAVAILABLE,
            ) from None
        activity.logger.info(
            "published event",
            extra={
                "essay_id": event.entity_ref.entity_id,
                "event_id": str(event.event_id),
                "correlation_id": event.system_metadata.correlation_id,
                "partition": metadata.partition,
                "offset": metadata.offset,
            },
        )
        return PublishedEvent(
            topic=metadata.topic, partition=metadata.partition, offset=metadata.offset
        )
