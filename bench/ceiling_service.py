"""B3's ceiling: the least a service can do with a batch's pages, as a bound on what ours can.

`hypercorn "bench.ceiling_service:create_app()" -c file:hypercorn_config.py`, as the API runs.
It takes the same pages over HTTP as our API (`POST /v1/batch`, `POST /v1/batch/<id>/essays`,
`POST /v1/batch/<id>/spellcheck` a no-op), answers 202 at once with fresh essay ids and keeps
them only in memory: nothing is durable, nothing is retried. A background task stores each text
in the content store with the worker's concurrency (CONTENT_SERVICE_CONCURRENCY), using the
cheapest HTTP client in this repository (bench/http_client.py, cheaper per request than the
worker's httpx), and hands each event to one producer without awaiting it, so the producer
batches the sends as our publish activity's does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from quart import Quart, request

from activities.kafka import KafkaPublisher
from bench.http_client import LoadClient
from contracts.events import SpellcheckRequestedEvent
from settings import get_settings

log = logging.getLogger(__name__)
TEXT_HEADERS = {"Content-Type": "text/plain; charset=utf-8"}


def _essays(body: Any) -> list[str] | None:
    essays = body.get("essays") if isinstance(body, dict) else None
    if not isinstance(essays, list) or not essays:
        return None
    texts = [e.get("text") if isinstance(e, dict) else None for e in essays]
    return texts if all(isinstance(t, str) and t.strip() for t in texts) else None


def create_app() -> Quart:
    settings = get_settings()
    app = Quart(__name__)
    queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()  # essay id, batch id, text
    state: dict[str, Any] = {}

    async def work() -> None:
        http = LoadClient(max_connections=settings.content_service_concurrency)
        producer = await state["publisher"].producer()
        correlation_id = str(uuid.uuid4())
        sends: set[asyncio.Future[Any]] = set()

        async def storer() -> None:
            while True:
                essay_id, batch_id, text = await queue.get()
                reply = await http.post(
                    settings.content_service_url,
                    body=text.encode(),
                    headers={**TEXT_HEADERS, "X-Correlation-ID": correlation_id},
                )
                if reply.status != 201 and reply.status != 200:
                    log.error("content store answered %s; essay %s lost", reply.status, essay_id)
                    continue
                event = SpellcheckRequestedEvent.for_essay(
                    essay_id=essay_id,
                    text_storage_id=reply.json()["storage_id"],
                    correlation_id=correlation_id,
                    timestamp=datetime.now(UTC),
                    submission=correlation_id,
                    batch_id=batch_id,
                )
                sent = await producer.send(
                    settings.kafka_topic,
                    value=event.to_bytes(),
                    key=event.key,
                    headers=event.headers(),
                )
                sends.add(sent)
                sent.add_done_callback(sends.discard)

        try:
            await asyncio.gather(*(storer() for _ in range(settings.content_service_concurrency)))
        finally:
            await http.close()

    @app.before_serving
    async def start() -> None:
        state["publisher"] = KafkaPublisher(settings)
        state["task"] = asyncio.create_task(work())

    @app.after_serving
    async def stop() -> None:
        state["task"].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state["task"]
        await state["publisher"].close()

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    async def accept(batch_id: str, body: Any):
        texts = _essays(body)
        if texts is None:
            return {"error": "Validation failed", "details": "essays: texts required"}, 400
        essay_ids = [str(uuid.uuid4()) for _ in texts]
        for essay_id, text in zip(essay_ids, texts, strict=True):
            queue.put_nowait((essay_id, batch_id, text))
        return {"batch_id": batch_id, "essay_ids": essay_ids}, 202

    @app.post("/v1/batch")
    async def create_batch():
        body = await request.get_json(silent=True)
        batch_id = body.get("batch_id") if isinstance(body, dict) else None
        return await accept(batch_id or str(uuid.uuid4()), body)

    @app.post("/v1/batch/<batch_id>/essays")
    async def add_essays(batch_id: str):
        return await accept(batch_id, await request.get_json(silent=True))

    @app.post("/v1/batch/<batch_id>/spellcheck")
    async def trigger(batch_id: str):
        return {}, 202

    return app
