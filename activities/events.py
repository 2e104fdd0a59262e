"""Publish the `essay.spellcheck.requested.v1` events, and a batch's
`batch.spellcheck.completed.v1` event."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry.trace import SpanKind
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.kafka import IdempotenceRejected, KafkaPublisher
from activities.metrics import count_events
from activities.progress import run_all_heartbeating
from activities.shutdown import DEFAULT_SHUTDOWN_GRACE, within_shutdown_grace
from contracts.batch import (
    PUBLISH_BATCH_EVENT,
    PUBLISH_CHUNK,
    PublishChunkInput,
    PublishChunkResult,
)
from contracts.essay import PUBLISH_SPELLCHECK_REQUESTED, PublishedEvent, PublishEventInput
from contracts.events import BATCH_TOPIC, BatchSpellcheckCompletedEvent, SpellcheckRequestedEvent
from tracing import tracer

BROKER_UNAVAILABLE = "BrokerUnavailable"


class EventActivities:
    def __init__(
        self,
        publisher: KafkaPublisher,
        topic: str,
        shutdown_grace: timedelta = DEFAULT_SHUTDOWN_GRACE,
        batch_topic: str = BATCH_TOPIC,
    ) -> None:
        self._publisher = publisher
        self._topic = topic
        self._shutdown_grace = shutdown_grace
        self._batch_topic = batch_topic

    @activity.defn(name=PUBLISH_BATCH_EVENT)
    async def publish_batch_event(self, event: BatchSpellcheckCompletedEvent) -> None:
        """One acknowledged send; retried by the workflow's policy until the broker has it."""
        producer = await self._producer()
        try:
            await producer.send_and_wait(
                self._batch_topic, value=event.to_bytes(), key=event.key, headers=event.headers()
            )
        except KafkaError as exc:
            self._publisher.discard(producer)
            raise _unavailable("the broker did not acknowledge the batch event", exc) from None
        activity.logger.info(
            "published batch event",
            extra={
                "batch_id": event.entity_ref.entity_id,
                "event_id": str(event.event_id),
                "round": event.round,
                "correlation_id": event.system_metadata.correlation_id,
            },
        )

    @activity.defn(name=PUBLISH_SPELLCHECK_REQUESTED)
    async def publish_event(self, inp: PublishEventInput) -> PublishedEvent:
        event = inp.event
        try:
            producer = await self._producer()
        except ApplicationError:
            count_events("failed")
            raise
        try:
            # A local activity: the SDK would not cancel it when the worker stops.
            with tracer.start_as_current_span("kafka send", kind=SpanKind.PRODUCER):
                metadata = await within_shutdown_grace(
                    producer.send_and_wait(
                        self._topic,
                        value=event.to_bytes(),
                        key=event.key,
                        headers=event.headers(inp.traceparent),
                    ),
                    self._shutdown_grace,
                )
        except KafkaError as exc:
            count_events("failed")
            self._publisher.discard(producer)
            raise _unavailable("the broker did not acknowledge the event", exc) from None
        count_events("published")
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

    @activity.defn(name=PUBLISH_CHUNK)
    async def publish_chunk(self, inp: PublishChunkInput) -> PublishChunkResult:
        """Send a chunk's events together; return the essays whose event the broker acknowledged.

        Sends are batched by the producer, so a chunk costs a few round trips, not one per
        essay. Only when nothing was acknowledged does the activity fail (and back off).
        """
        try:
            producer = await self._producer()
        except ApplicationError:
            count_events("failed", len(inp.events))
            raise
        handed: dict[str, asyncio.Future] = {}  # essay id -> its record's delivery
        errors: list[BaseException] = []

        async def send_one(event: SpellcheckRequestedEvent) -> None:
            try:
                delivery = await producer.send(
                    self._topic,
                    value=event.to_bytes(),
                    key=event.key,
                    headers=event.headers(inp.traceparent),
                )
            except KafkaError as exc:
                errors.append(exc)
                return
            handed[event.entity_ref.entity_id] = delivery
            with contextlib.suppress(KafkaError):
                await asyncio.shield(delivery)  # its outcome is read below

        with tracer.start_as_current_span("kafka send chunk", kind=SpanKind.PRODUCER) as span:
            span.set_attribute("messaging.batch.message_count", len(inp.events))
            cancelled = not await run_all_heartbeating(send_one(e) for e in inp.events)
        # A record handed to the producer goes out even if the activity is cancelled now
        # (aiokafka cannot take one back, and stop() sends what is queued), so its delivery is
        # awaited and reported: that essay is published, never called cancelled.
        unsettled = [d for d in handed.values() if not d.done()]
        if unsettled:
            await run_all_heartbeating(_settled(d) for d in unsettled)
        result = PublishChunkResult()
        for essay_id, delivery in handed.items():
            if delivery.cancelled():
                errors.append(KafkaError("the producer gave up on the record"))
            elif (failure := delivery.exception()) is not None:
                errors.append(failure)
            else:
                result.published.append(essay_id)
        count_events("published", len(result.published))
        count_events("failed", len(errors))
        _log_chunk(inp, result, errors)
        if errors:
            self._publisher.discard(producer)
            if not result.published and not cancelled:
                first = errors[0]
                raise _unavailable(
                    f"the broker acknowledged none of {len(inp.events)} events", first
                ) from None
        return result

    async def _producer(self) -> AIOKafkaProducer:
        try:
            return await self._publisher.producer()
        except IdempotenceRejected as exc:
            # Still retryable: once the operator fixes the setting and restarts the worker,
            # the essay goes out; failing it here would lose it.
            raise ApplicationError(
                "the broker refused the producer's settings; an operator must change them",
                str(exc),
                type="KafkaMisconfigured",
            ) from None
        except KafkaError as exc:
            raise _unavailable("the broker could not be reached", exc) from None


def _unavailable(what: str, exc: BaseException) -> ApplicationError:
    """Retryable. No chained cause, so the failure stays within what the server keeps (~4 KB);
    the message is what a client reads, and where the broker is stays in the details."""
    return ApplicationError(f"{what} ({type(exc).__name__})", str(exc), type=BROKER_UNAVAILABLE)


async def _settled(delivery: asyncio.Future) -> None:
    with contextlib.suppress(KafkaError, asyncio.CancelledError):
        await asyncio.shield(delivery)


def _log_chunk(
    inp: PublishChunkInput, result: PublishChunkResult, errors: list[BaseException]
) -> None:
    if not inp.events:
        return
    first = inp.events[0]  # a chunk's events share their batch and correlation id
    activity.logger.info(
        "published chunk",
        extra={
            "batch_id": first.entity_ref.parent_id,
            "correlation_id": first.system_metadata.correlation_id,
            "published": len(result.published),
            "failed": len(errors),
        },
    )
