"""A transactional outbox: the design a team would build instead of Temporal, as B1-B3's peer.

`hypercorn "bench.outbox_service:create_app()" -c file:hypercorn_config.py`, with the API's
settings from the environment plus OUTBOX_PATH (the SQLite file). Durability: a request's
essays are inserted in one SQLite transaction (WAL, `synchronous=FULL`) and the 202 is sent only
once that commit is fsynced, so an accepted essay survives a crash of the process or the
machine. A relay task in the same process then stores each text in the Content Service, saves
the event beside its row (a repeat sends the same bytes and event id), sends the events with the
worker's producer and deletes the rows Kafka acknowledged. Any failure leaves the rows for the
next round, retried with backoff forever: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from aiokafka.errors import KafkaError
from quart import Quart, request

from activities.content import STORAGE_ID
from activities.kafka import KafkaPublisher
from api.http.bodies import ID_MAX_LENGTH, ID_PATTERN, ID_RULE
from contracts.events import SpellcheckRequestedEvent
from logging_setup import configure_logging
from settings import Settings, get_settings
from worker import build_http_client

log = logging.getLogger("outbox")
T = TypeVar("T")

ROUND_ROWS = 1_000
MIN_BACKOFF_S, MAX_BACKOFF_S = 0.1, 30.0
_ID = re.compile(ID_PATTERN)
SCHEMA = """CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, essay_id TEXT NOT NULL, correlation_id TEXT NOT NULL,
    batch_id TEXT, text TEXT NOT NULL, storage_id TEXT, event BLOB)"""


class Invalid(ValueError):
    """A body the service refuses with 400."""


class Row(NamedTuple):
    id: int  # the rowid: insertion order
    essay_id: str
    correlation_id: str
    batch_id: str | None
    text: str | None  # read only while the row has no event yet
    event: bytes | None  # the exact bytes to send, saved with the storage id


class Outbox:
    """The SQLite file, touched only by its own thread."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="outbox-db")
        self._db: sqlite3.Connection | None = None
        self.committed = asyncio.Event()  # set after every commit of new rows: the relay's cue

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def open(self) -> None:
        self._db = sqlite3.connect(self._path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # WAL fsynced at every commit
        self._db.execute(SCHEMA)

    async def close(self) -> None:
        await self.call(self._db.close)  # queued after any job still running
        self._thread.shutdown()

    async def add(self, rows: list[tuple]) -> None:
        """Return once `rows` are committed durably: one transaction and one fsync per request
        (a page is one request)."""
        await self.call(self._insert, rows)
        self.committed.set()

    def _insert(self, rows: list[tuple]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT INTO outbox (essay_id, correlation_id, batch_id, text) VALUES (?,?,?,?)",
                rows,
            )

    def unsent(self, limit: int) -> list[Row]:
        query = "SELECT id, essay_id, correlation_id, batch_id, "
        query += "CASE WHEN event IS NULL THEN text END, event FROM outbox ORDER BY id LIMIT ?"
        return [Row(*r) for r in self._db.execute(query, (limit,))]

    def save(self, stored: list[tuple[str, bytes, int]]) -> None:
        with self._db:
            self._db.executemany("UPDATE outbox SET storage_id=?, event=? WHERE id=?", stored)

    def delete(self, ids: list[int]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM outbox WHERE id=?", [(i,) for i in ids])


class Relay:
    """Moves committed rows to Kafka: store texts, save events, send, delete, in rounds."""

    def __init__(self, settings: Settings, outbox: Outbox) -> None:
        self._settings = settings
        self._outbox = outbox
        self._http = build_http_client(settings)  # the worker's client, pool and limits
        self._publisher = KafkaPublisher(settings)  # the worker's producer settings
        self._slots = asyncio.Semaphore(settings.content_service_concurrency)

    async def run(self) -> None:
        delay = MIN_BACKOFF_S
        while True:
            self._outbox.committed.clear()  # a commit from here on asks for another round
            try:
                full = await self._round()
            except Exception as exc:  # the rows stay in the table: the round is done again
                log.warning("outbox round failed", extra={"error": repr(exc), "retry_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            delay = MIN_BACKOFF_S
            if not full:  # a full round may have left rows behind: no cue would come for them
                await self._outbox.committed.wait()

    async def close(self) -> None:
        await self._publisher.close()
        await self._http.aclose()

    async def _round(self) -> bool:
        rows = await self._outbox.call(self._outbox.unsent, ROUND_ROWS)
        fresh = [row for row in rows if row.event is None]
        stored = await asyncio.gather(*(self._store(r) for r in fresh), return_exceptions=True)
        events = {row.id: row.event for row in rows if row.event is not None}
        saved = []
        for row, storage_id in zip(fresh, stored, strict=True):
            if isinstance(storage_id, str):
                event = SpellcheckRequestedEvent.for_essay(
                    essay_id=row.essay_id,
                    text_storage_id=storage_id,
                    correlation_id=row.correlation_id,
                    timestamp=datetime.now(UTC),
                    submission=row.correlation_id,
                    batch_id=row.batch_id,
                ).to_bytes()
                saved.append((storage_id, event, row.id))
                events[row.id] = event
        if saved:  # before any send: a repeat after a crash sends these bytes, never new ones
            await self._outbox.call(self._outbox.save, saved)
        ready = [(row, events[row.id]) for row in rows if row.id in events]  # in insertion order
        sent, failure = await self._send(ready)
        if sent:
            await self._outbox.call(self._outbox.delete, sent)
        failure = failure or next((e for e in stored if isinstance(e, Exception)), None)
        if failure is not None:
            raise failure
        return len(rows) == ROUND_ROWS

    async def _store(self, row: Row) -> str:
        """The worker's request (activities/content.py); its key returns the first storage id
        to a repeat."""
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "X-Correlation-ID": row.correlation_id,
            "Idempotency-Key": f"{row.correlation_id}/{row.essay_id}",
        }
        async with self._slots:
            response = await self._http.post(
                self._settings.content_service_url, content=row.text.encode(), headers=headers
            )
        response.raise_for_status()
        storage_id = response.json()["storage_id"]
        if not isinstance(storage_id, str) or not STORAGE_ID.match(storage_id):
            raise ValueError(f"malformed storage_id {storage_id!r:.100}")
        return storage_id

    async def _send(self, ready: list[tuple[Row, bytes]]) -> tuple[list[int], Exception | None]:
        """Hand every event to the producer, then wait for all: it batches them, as the
        worker's publish_chunk does. Returns the rows acknowledged and the first failure."""
        if not ready:
            return [], None
        producer = await self._publisher.producer()
        handed: list[tuple[int, asyncio.Future]] = []
        failure: Exception | None = None
        try:
            for row, event in ready:
                headers = SpellcheckRequestedEvent.model_validate_json(event).headers()
                delivery = await producer.send(
                    self._settings.kafka_topic, event, row.essay_id.encode(), headers=headers
                )
                handed.append((row.id, delivery))
        except KafkaError as exc:
            failure = exc
        outcomes = await asyncio.gather(*(d for _, d in handed), return_exceptions=True)
        sent = []
        for (row_id, _), outcome in zip(handed, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                sent.append(row_id)
            elif failure is None:  # a cancelled delivery too: the producer gave up on it
                failure = outcome if isinstance(outcome, Exception) else KafkaError(repr(outcome))
        if failure is not None:
            self._publisher.discard(producer)  # as the worker does: a fresh one re-reads metadata
        return sent, failure


def _is_id(value: object) -> bool:
    return isinstance(value, str) and len(value) <= ID_MAX_LENGTH and bool(_ID.match(value))


def _essay(value: object, where: str = "") -> tuple[str, str]:
    """(essay id, text) of one essay in a body: the client's id, or a new one."""
    if not isinstance(value, dict):
        raise Invalid(f"{where}must be an object")
    text, essay_id = value.get("text"), value.get("essay_id")
    if not isinstance(text, str) or not text.strip():
        raise Invalid(f"{where}text is required")
    if essay_id is not None and not _is_id(essay_id):
        raise Invalid(f"{where}essay_id must be {ID_RULE}")
    return essay_id or str(uuid.uuid4()), text


def create_app() -> Quart:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = Quart(__name__, static_folder=None)
    # Every text then fits the Content Service (10 MiB), so none is refused there forever.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_batch_request_bytes
    state: dict[str, Any] = {}

    @app.before_serving
    async def start() -> None:
        outbox = Outbox(os.environ.get("OUTBOX_PATH", "outbox.sqlite"))
        await outbox.call(outbox.open)
        relay = Relay(settings, outbox)
        # Its first round runs at once: rows a previous run left behind go out first.
        state.update(outbox=outbox, relay=relay, task=asyncio.create_task(relay.run()))

    @app.after_serving
    async def stop() -> None:
        state["task"].cancel()  # every step of a round may be repeated, so it may stop anywhere
        with contextlib.suppress(asyncio.CancelledError):
            await state["task"]
        await state["relay"].close()
        await state["outbox"].close()

    @app.errorhandler(Invalid)
    async def invalid(exc: Invalid):
        return {"error": "Validation failed", "details": str(exc)}, 400

    @app.errorhandler(sqlite3.Error)
    async def unavailable(exc: sqlite3.Error):
        return {"error": "Service unavailable", "details": type(exc).__name__}, 503

    async def body() -> dict[str, Any]:
        value = await request.get_json(silent=True)
        if not isinstance(value, dict):
            raise Invalid("the body must be a JSON object")
        return value

    async def add_page(batch_id: str, essays: object) -> tuple[dict, int]:
        if not isinstance(essays, list) or not essays:
            raise Invalid("essays must be a non-empty list")
        page = [_essay(essay, f"essays[{n}]: ") for n, essay in enumerate(essays)]
        essay_ids = [essay_id for essay_id, _ in page]
        if len(set(essay_ids)) != len(essay_ids):
            raise Invalid("essay_id values must be unique within the page")
        correlation_id = str(uuid.uuid4())
        await state["outbox"].add([(e, correlation_id, batch_id, text) for e, text in page])
        answer = {"batch_id": batch_id, "essay_ids": essay_ids, "correlation_id": correlation_id}
        return answer, 202

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.post("/v1/trigger-spellcheck")
    async def trigger_spellcheck():
        essay_id, text = _essay(await body())
        correlation_id = str(uuid.uuid4())
        await state["outbox"].add([(essay_id, correlation_id, None, text)])
        return {
            "message": "Spellcheck triggered",
            "essay_id": essay_id,
            "correlation_id": correlation_id,
        }, 202

    @app.post("/v1/batch")
    async def create_batch():
        value = await body()
        batch_id = value.get("batch_id", None)
        batch_id = str(uuid.uuid4()) if batch_id is None else batch_id
        if not _is_id(batch_id):
            raise Invalid(f"batch_id must be {ID_RULE}")
        return await add_page(batch_id, value.get("essays"))

    @app.post("/v1/batch/<batch_id>/essays")
    async def add_essays(batch_id: str):
        if not _is_id(batch_id):
            raise Invalid(f"batch_id must be {ID_RULE}")
        return await add_page(batch_id, (await body()).get("essays"))

    @app.post("/v1/batch/<batch_id>/spellcheck")
    async def trigger_batch(batch_id: str):
        return {}, 202  # nothing to do: the relay sends each row as soon as it is committed

    return app
