"""The old Batch Service's request path, as B2's baseline: all the work inside the request.

`hypercorn "bench.baseline_service:create_app()" -c file:hypercorn_config.py`, the API's own
server settings: `POST /v1/trigger-spellcheck` stores the text
in the content store (with the worker's own client), sends the same event to Kafka with
`send_and_wait` (acks="all", one producer per process), then answers 202, as HuleEdu's first
Batch Service did. A failure of either dependency loses the essay (503): the flaw the
orchestrator removes, and the cost it must not multiply. Reads CONTENT_SERVICE_URL,
KAFKA_BOOTSTRAP_SERVERS and KAFKA_TOPIC like the worker.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from quart import Quart, request

from contracts.events import SpellcheckRequestedEvent
from settings import get_settings
from worker import build_http_client


def create_app() -> Quart:
    settings = get_settings()
    app = Quart(__name__)
    clients: dict[str, Any] = {}

    @app.before_serving
    async def open_clients() -> None:
        clients["http"] = build_http_client(settings)
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=False,
            request_timeout_ms=settings.kafka_request_timeout_ms,
        )
        await producer.start()
        clients["kafka"] = producer

    @app.after_serving
    async def close_clients() -> None:
        await clients["kafka"].stop()
        await clients["http"].aclose()

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.post("/v1/trigger-spellcheck")
    async def trigger_spellcheck():
        body = await request.get_json(silent=True)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return {"error": "Validation failed", "details": "text is required"}, 400
        essay_id = body.get("essay_id") or str(uuid.uuid4())
        correlation_id = str(uuid.uuid4())
        http: httpx.AsyncClient = clients["http"]
        producer: AIOKafkaProducer = clients["kafka"]
        try:
            stored = await http.post(
                settings.content_service_url,
                content=text.encode(),
                headers={
                    "Content-Type": "text/plain; charset=utf-8",
                    "X-Correlation-ID": correlation_id,
                },
            )
            stored.raise_for_status()
            event = SpellcheckRequestedEvent.for_essay(
                essay_id=essay_id,
                text_storage_id=stored.json()["storage_id"],
                correlation_id=correlation_id,
                timestamp=datetime.now(UTC),
                submission=correlation_id,
            )
            await producer.send_and_wait(
                settings.kafka_topic, value=event.to_bytes(), key=event.key, headers=event.headers()
            )
        except (httpx.HTTPError, KafkaError, KeyError, ValueError) as exc:
            return {"error": "Service unavailable", "details": f"{type(exc).__name__}"}, 503
        return (
            {
                "message": "Spellcheck triggered",
                "essay_id": essay_id,
                "correlation_id": correlation_id,
            },
            202,
        )

    return app
