"""The worker's one Kafka producer, started on first use and restarted after a failed start."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.helpers import create_ssl_context

from settings import Settings

log = logging.getLogger(__name__)


# The lines a replaced producer leaves, in this order; the fault suite checks the order.
PRODUCER_DISCARDED = "kafka producer discarded after a failed send; stopping it"
PRODUCER_STOPPED = "kafka producer stopped"
PRODUCER_STARTED = "kafka producer started"


class IdempotenceRejected(RuntimeError):
    """The broker refused an idempotent producer: a configuration error, not an outage."""


# A chunk sends its events (up to 125, about 90 KB) at once. With aiokafka's 16 KiB batches every
# send that finds the batch full waits for it to drain, then all of them wake and race for the
# next one: a quarter of the worker's CPU while a batch published. Brokers take a megabyte per
# request by default (message.max.bytes), so a whole chunk fits in one batch.
MAX_BATCH_BYTES = 256 * 1024


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """How any client of ours reaches the brokers: where, and with what security."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": protocol,
    }
    if protocol.endswith("SSL"):
        # Without a CA file, the system's CAs: what a managed Kafka's certificates chain to.
        options["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_ca_file,
            certfile=settings.kafka_ssl_cert_file,
            keyfile=settings.kafka_ssl_key_file,
        )
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            # aiokafka takes these names for SCRAM too.
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password.get_secret_value() if password else None,
        )
    return options


class KafkaPublisher:
    """Owns one `AIOKafkaProducer` for the whole worker process.

    aiokafka's `start()` fails while the broker is down and a failed producer cannot be started
    again, so the producer is built and started on first use, and rebuilt after a failed start.
    After a failed send the producer is discarded too: its cached metadata may describe a
    broker that has since restarted, and the embedded broker (Tansu, memory only) acknowledges
    writes to a topic it no longer has. A fresh producer asks for the topic's metadata first,
    which recreates the topic before anything is written.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()
        self._started = 0  # producers started so far: each one's number in the log

    def _build(self) -> AIOKafkaProducer:
        s = self._settings
        return AIOKafkaProducer(
            **kafka_client_options(s),
            client_id="huleedu-batch-service",
            compression_type=None if s.kafka_compression == "none" else s.kafka_compression,
            acks="all",
            enable_idempotence=s.kafka_enable_idempotence,
            request_timeout_ms=s.kafka_request_timeout_ms,
            max_batch_size=MAX_BATCH_BYTES,
        )

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                # A discarded producer's stop() still sends what it had queued. Two producers
                # writing at once right after a broker restart raced for the same offset on the
                # embedded broker, which then lost an acknowledged event: the old one is fully
                # stopped before a new one starts.
                await asyncio.gather(*self._closing, return_exceptions=True)
                producer = self._build()
                try:
                    await producer.start()
                except KafkaConnectionError:
                    await producer.stop()
                    raise
                except KafkaError as exc:
                    await producer.stop()
                    if self._settings.kafka_enable_idempotence:
                        raise IdempotenceRejected(
                            f"the broker at {self._settings.kafka_bootstrap_servers} rejected "
                            f"an idempotent producer ({exc!r}); set "
                            "KAFKA_ENABLE_IDEMPOTENCE=false for brokers without idempotence "
                            "(such as the embedded dev broker)"
                        ) from exc
                    raise
                self._producer = producer
                self._started += 1
                if self._started > 1:
                    log.warning(PRODUCER_STARTED, extra={"producer": self._started})
        return self._producer

    def discard(self, producer: AIOKafkaProducer) -> None:
        """Drop `producer` after a failed send (unless another call already replaced it).

        Stopping waits for its pending sends to expire, so it runs in the background.
        """
        if self._producer is not producer:
            return
        self._producer = None
        task = asyncio.create_task(self._stop(producer, self._started))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _stop(self, producer: AIOKafkaProducer, number: int) -> None:
        log.warning(PRODUCER_DISCARDED, extra={"producer": number})
        await producer.stop()
        log.warning(PRODUCER_STOPPED, extra={"producer": number})

    async def check_at_startup(self) -> None:
        """Fail fast on a misconfiguration; only warn when the broker is merely down."""
        try:
            await self.producer()
        except KafkaConnectionError as exc:
            log.warning(
                "Kafka is unreachable at start-up; events wait until it is back",
                extra={
                    "bootstrap_servers": self._settings.kafka_bootstrap_servers,
                    "error": str(exc),
                },
            )

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        await asyncio.gather(*self._closing, return_exceptions=True)
