"""A secured Kafka and Content Service: TLS with a client certificate, SASL, a bearer token.

The embedded broker speaks plain TCP, so a TLS proxy (tests/tls.py) stands in front of it and
the broker advertises the proxy's address: every connection a client makes, bootstrap or not,
is TLS. The embedded broker has no SASL, so SASL is shown by the producer's configuration.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from activities.kafka import KafkaPublisher, kafka_client_options
from devstack.components import ManagedProcess, broker_argv, free_port
from settings import Settings
from tests.conftest import HOST, Server, content_url
from tests.tls import CertificateAuthority, Pem, TlsProxy
from worker import build_http_client


class TlsBroker:
    """The embedded broker behind a TLS proxy that demands a client certificate."""

    def __init__(self, folder: Path, proxy: TlsProxy, ca: CertificateAuthority) -> None:
        self.ca = ca
        self.client = ca.issue("worker", "huleedu-worker", server=False)
        self.proxy = proxy
        self.address = proxy.address

    def settings(self, client: Pem | None) -> Settings:
        return Settings(
            kafka_bootstrap_servers=self.address,
            kafka_security_protocol="SSL",
            kafka_ssl_ca_file=str(self.ca.pem.cert),
            kafka_ssl_cert_file=str(client.cert) if client else None,
            kafka_ssl_key_file=str(client.key) if client else None,
            kafka_enable_idempotence=False,
            kafka_request_timeout_ms=5000,
            kafka_compression="gzip",
            kafka_topic=f"secured-{uuid.uuid4().hex[:8]}",
        )


@pytest.fixture
async def tls_broker(tmp_path: Path) -> AsyncIterator[TlsBroker]:
    ca = CertificateAuthority(tmp_path)
    port = free_port()
    server = ca.issue("broker", "broker", server=True)
    async with TlsProxy(f"{HOST}:{port}", server, client_ca=ca.pem.cert, alpn=()) as proxy:
        secured = TlsBroker(tmp_path, proxy, ca)
        argv = broker_argv(port, HOST, advertised=proxy.address)
        broker = Server(ManagedProcess("broker", argv, log_path=tmp_path / "broker.log"), port)
        await broker.start()
        try:
            yield secured
        finally:
            broker.stop()


async def test_events_go_out_over_tls_with_a_client_certificate(tls_broker: TlsBroker) -> None:
    settings = tls_broker.settings(tls_broker.client)
    publisher = KafkaPublisher(settings)
    try:
        producer = await publisher.producer()
        await producer.send_and_wait(settings.kafka_topic, b"an event, over TLS", key=b"essay-1")
    finally:
        await publisher.close()
    consumer = AIOKafkaConsumer(
        settings.kafka_topic, **kafka_client_options(settings), auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"essay-1", b"an event, over TLS")
    assert tls_broker.proxy.relayed >= 2  # the producer's and the consumer's connections


async def test_without_the_client_certificate_the_broker_is_not_reached(
    tls_broker: TlsBroker,
) -> None:
    publisher = KafkaPublisher(tls_broker.settings(client=None))
    try:
        with pytest.raises(KafkaConnectionError):
            await publisher.producer()
    finally:
        await publisher.close()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_sasl_over_tls_reaches_the_producer(mechanism: str) -> None:
    settings = Settings(
        kafka_bootstrap_servers="kafka.example:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="huleedu",
        kafka_sasl_password="s3cret-password",
    )
    options = kafka_client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == mechanism
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "huleedu",
        "s3cret-password",
    )
    assert options["ssl_context"].verify_mode.name == "CERT_REQUIRED"
    producer = AIOKafkaProducer(**options)  # aiokafka checks the combination when built
    assert producer.client._sasl_mechanism == mechanism
    await producer.stop()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs KAFKA_SASL_USERNAME"),
        ({"kafka_ssl_cert_file": "/c.pem", "kafka_security_protocol": "SSL"}, "go together"),
        ({"kafka_ssl_ca_file": "/ca.pem"}, "only with KAFKA_SECURITY_PROTOCOL SSL"),
        ({"kafka_compression": "lz4"}, "kafka_compression"),
    ],
)
def test_a_partial_kafka_security_is_refused(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(**values)


async def test_the_content_service_is_reached_over_tls_with_its_ca_and_a_token(
    content_store: Server, tmp_path: Path
) -> None:
    ca = CertificateAuthority(tmp_path)
    server = ca.issue("content", "content", server=True)
    async with TlsProxy(content_store.address, server, alpn=("http/1.1",)) as proxy:
        url = content_url(content_store).replace(content_store.address, proxy.address)
        settings = Settings(
            content_service_url=url.replace("http://", "https://"),
            content_service_ca_file=str(ca.pem.cert),
            content_service_token="a-service-token",
        )
        async with build_http_client(settings) as http:
            assert http.headers["Authorization"] == "Bearer a-service-token"
            stored = await http.post(settings.content_service_url, content=b"Helo wrold")
            assert stored.status_code == 201, stored.text
            storage_id = stored.json()["storage_id"]
            read = await http.get(f"{settings.content_service_url}/{storage_id}")
        # Without the CA, the store's certificate is not trusted.
        async with httpx.AsyncClient() as untrusting:
            with pytest.raises(httpx.ConnectError):
                await untrusting.get(settings.content_service_url)
    assert read.content == b"Helo wrold"
    assert proxy.relayed >= 1
