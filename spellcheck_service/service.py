"""The consumer loop: a poll's requests answered together, their offsets committed only once
every result is on the topic, so a checker stopped mid-way answers them again when it comes
back."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from contracts.events import SpellcheckRequestedEvent
from contracts.results import (
    FAILED,
    RESULT_TOPIC,
    SUCCESS,
    ResultEntityRef,
    ResultMetadata,
    ResultReferences,
    SpellcheckCompletedEvent,
    StorageMetadata,
    StorageReference,
)
from spellcheck_service.correct import correct

log = logging.getLogger("spellchecker")
GROUP = "huleedu-spellchecker"
RETRY_S = 2.0  # the Content Service or the broker is away: ask again this soon
POLL_RECORDS = 50  # requests answered at once


class ContentUnavailable(RuntimeError):
    """The Content Service did not answer: the request waits, uncommitted."""


async def result_for(
    request: SpellcheckRequestedEvent, http: httpx.AsyncClient, content_url: str
) -> SpellcheckCompletedEvent:
    ref = request.entity_ref
    entity = ResultEntityRef(entity_id=ref.entity_id, parent_id=ref.parent_id)
    now = datetime.now(UTC)
    correlation_id = request.system_metadata.correlation_id
    try:
        read = await http.get(f"{content_url}/{request.text_storage_id}")
        if read.status_code in (400, 404):
            return SpellcheckCompletedEvent(
                entity_ref=entity,
                status=FAILED,
                system_metadata=ResultMetadata(
                    timestamp=now,
                    correlation_id=correlation_id,
                    error_info=f"text {request.text_storage_id} not found ({read.status_code})",
                ),
            )
        read.raise_for_status()
        corrected, changes = correct(read.content.decode("utf-8", errors="replace"))
        stored = await http.post(
            content_url,
            content=corrected.encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        stored.raise_for_status()
    except httpx.HTTPError as exc:
        raise ContentUnavailable(str(exc) or type(exc).__name__) from exc
    storage_id = stored.json()["storage_id"]
    return SpellcheckCompletedEvent(
        entity_ref=entity,
        status=SUCCESS,
        system_metadata=ResultMetadata(timestamp=now, correlation_id=correlation_id),
        storage_metadata=StorageMetadata(
            references=ResultReferences(
                corrected_text=StorageReference(
                    storage_id=storage_id, path=f"{content_url}/{storage_id}"
                )
            )
        ),
        corrections_made=changes,
    )


async def serve(
    bootstrap: str,
    requests_topic: str,
    content_url: str,
    stop: asyncio.Event,
    results_topic: str = RESULT_TOPIC,
) -> None:
    consumer = AIOKafkaConsumer(
        requests_topic,
        bootstrap_servers=bootstrap,
        group_id=GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await _start_when_reachable(consumer, stop)
    await _start_when_reachable(producer, stop)
    log.info("consuming %s at %s", requests_topic, bootstrap)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=POLL_RECORDS)
                # The texts' reads, stores and result sends overlap; the correcting itself
                # runs one at a time on the loop. Committed once the whole poll is answered.
                await asyncio.gather(
                    *(
                        _answer(record, http, content_url, producer, results_topic, stop)
                        for records in batches.values()
                        for record in records
                    )
                )
                if batches and not stop.is_set():
                    await consumer.commit(
                        {tp: records[-1].offset + 1 for tp, records in batches.items()}
                    )
    finally:
        await consumer.stop()
        await producer.stop()


async def _answer(
    record, http, content_url, producer, results_topic: str, stop: asyncio.Event
) -> None:
    try:
        request = SpellcheckRequestedEvent.model_validate_json(record.value)
    except ValidationError as exc:
        log.warning("not a spellcheck request, skipped: %s", exc.errors()[0]["msg"])
        return
    while not stop.is_set():
        try:
            result = await result_for(request, http, content_url)
            await producer.send_and_wait(
                results_topic, result.to_bytes(), key=request.key, headers=_headers(request)
            )
            log.info(
                "spellchecked %s: %s, %d corrections",
                request.entity_ref.entity_id,
                result.status,
                result.corrections_made or 0,
            )
            return
        except (ContentUnavailable, KafkaError) as exc:
            log.warning("retrying %s in %gs: %s", request.entity_ref.entity_id, RETRY_S, exc)
            await asyncio.sleep(RETRY_S)


def _headers(request: SpellcheckRequestedEvent) -> list[tuple[str, bytes]]:
    return [
        ("event_type", b"huleedu.essay.spellcheck.completed.v1"),
        ("correlation_id", request.system_metadata.correlation_id.encode()),
        ("source_service", b"huleedu-spellchecker"),
    ]


async def _start_when_reachable(client, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await client.start()
            return
        except KafkaError as exc:
            log.warning("broker unreachable, retrying: %s", exc)
            await asyncio.sleep(RETRY_S)
