"""The transactional outbox arm (bench/outbox_service.py) on real parts: the service under
Hypercorn as a process, the embedded broker and the content store.

Every accepted essay's event reaches the topic exactly once while all is well; with the broker
unreachable the essays wait in the SQLite file, survive a SIGKILL of the service, and go out
when it is started again, with the event id `event_id_for` gives and, where the texts were
stored before the kill, the exact bytes saved then.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.events import event_id_for
from devstack.components import HYPERCORN_BIN, REPO_ROOT, ManagedProcess, free_port
from settings import Settings
from tests.conftest import HOST, Server
from tests.helpers import TopicReader, wait_until

APP = "bench.outbox_service:create_app()"
TIMEOUT_S = 20


@contextlib.asynccontextmanager
async def outbox_service(
    settings: Settings, db: Path, log: Path
) -> AsyncIterator[tuple[Server, httpx.AsyncClient]]:
    """The service under the API's Hypercorn settings, on the port `settings` names."""
    env = {**settings.as_env(), "OUTBOX_PATH": str(db), "PYTHONUNBUFFERED": "1"}
    argv = [str(HYPERCORN_BIN), APP, "-c", "file:hypercorn_config.py"]
    process = ManagedProcess("outbox", argv, env=env, cwd=REPO_ROOT, log_path=log)
    server = Server(process, settings.port)
    try:
        await server.start()
        async with httpx.AsyncClient(base_url=f"http://{server.address}", timeout=10) as http:
            yield server, http
    finally:
        server.stop()


@pytest.fixture
def outbox_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {"host": HOST, "port": free_port(), "api_metrics_port": 0}
        return make_settings(**{**values, **overrides})

    return build


def rows(db: Path) -> list[tuple[str, bytes | None]]:
    """(essay id, saved event) of every row still in the outbox."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return list(conn.execute("SELECT essay_id, event FROM outbox ORDER BY id"))


async def end_offset(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        return (await consumer.end_offsets([partition]))[partition]
    finally:
        await consumer.stop()


async def accept(http: httpx.AsyncClient, batch_id: str) -> dict[str, tuple[str | None, str]]:
    """Two single essays and a batch of two pages; essay id -> (batch id, correlation id)."""
    accepted: dict[str, tuple[str | None, str]] = {}
    for body in ({"text": "Ths is a sentense."}, {"text": "Anuther one.", "essay_id": "s-2"}):
        answer = await http.post("/v1/trigger-spellcheck", json=body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["message"] == "Spellcheck triggered"
        accepted[answer.json()["essay_id"]] = (None, answer.json()["correlation_id"])
    pages = [
        ("/v1/batch", {"batch_id": batch_id, "essays": [{"text": "One."}, {"text": "Two."}]}),
        (f"/v1/batch/{batch_id}/essays", {"essays": [{"text": "Three.", "essay_id": "b-3"}]}),
    ]
    for path, body in pages:
        answer = await http.post(path, json=body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["batch_id"] == batch_id
        assert len(answer.json()["essay_ids"]) == len(body["essays"])
        for essay_id in answer.json()["essay_ids"]:
            accepted[essay_id] = (batch_id, answer.json()["correlation_id"])
    assert "b-3" in accepted and "s-2" in accepted
    trigger = await http.post(f"/v1/batch/{batch_id}/spellcheck")
    assert (trigger.status_code, trigger.json()) == (202, {})
    return accepted


def check_events(
    reader: TopicReader, accepted: dict[str, tuple[str | None, str]], saved: dict[str, bytes]
) -> None:
    """One event per accepted essay, each naming its essay and batch, with the event id derived
    from the acceptance, and the bytes saved in the outbox where there were any."""
    by_essay = {m.key.decode(): m for m in reader.messages}
    assert len(reader.messages) == len(by_essay) == len(accepted)
    assert by_essay.keys() == accepted.keys()
    for essay_id, (batch_id, correlation_id) in accepted.items():
        message = by_essay[essay_id]
        event = message.body
        assert event["entity_ref"]["entity_id"] == essay_id
        assert event["entity_ref"].get("parent_id") == batch_id
        assert event["system_metadata"]["correlation_id"] == correlation_id
        expected = str(event_id_for(essay_id, batch_id, correlation_id))
        assert event["event_id"] == message.headers["event_id"].decode() == expected
        if essay_id in saved:
            assert message.value == saved[essay_id]


async def drained(db: Path, bootstrap: str, reader: TopicReader, count: int) -> None:
    """Wait until the outbox is empty (every event acknowledged), then read the whole topic."""

    async def empty() -> bool:
        return not rows(db)

    await wait_until(empty, timeout_s=TIMEOUT_S, what="the outbox to empty")
    await reader.read_until(max(count, await end_offset(bootstrap, reader.topic)), TIMEOUT_S)


async def test_every_essay_is_published_once(
    outbox_settings: Callable[..., Settings], topic: str, tmp_path: Path
) -> None:
    settings = outbox_settings()
    db = tmp_path / "outbox.sqlite"
    async with (
        outbox_service(settings, db, tmp_path / "outbox.log") as (_, http),
        TopicReader(settings.kafka_bootstrap_servers, topic) as reader,
    ):
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        bad = await http.post("/v1/trigger-spellcheck", json={"text": "  "})
        assert bad.status_code == 400 and set(bad.json()) == {"error", "details"}
        accepted = await accept(http, f"batch-{uuid.uuid4().hex[:8]}")
        await drained(db, settings.kafka_bootstrap_servers, reader, len(accepted))
    check_events(reader, accepted, saved={})


@pytest.mark.parametrize("texts_stored", [True, False], ids=["texts-stored", "nothing-stored"])
async def test_accepted_essays_survive_a_kill_while_the_broker_is_away(
    outbox_settings: Callable[..., Settings],
    topic: str,
    tmp_path: Path,
    texts_stored: bool,
) -> None:
    nowhere = f"{HOST}:{free_port()}"  # nothing listens there
    reachable = outbox_settings()
    unreachable = reachable.model_copy(
        update={"kafka_bootstrap_servers": nowhere}
        | ({} if texts_stored else {"content_service_url": f"http://{nowhere}/v1/content"})
    )
    db, log = tmp_path / "outbox.sqlite", tmp_path / "outbox.log"
    async with outbox_service(unreachable, db, log) as (server, http):
        accepted = await accept(http, f"batch-{uuid.uuid4().hex[:8]}")
        if texts_stored:

            async def events_saved() -> bool:
                return all(event is not None for _, event in rows(db))

            await wait_until(events_saved, timeout_s=TIMEOUT_S, what="the events to be saved")

        async def retrying() -> bool:
            return "outbox round failed" in log.read_text()

        await wait_until(retrying, timeout_s=TIMEOUT_S, what="the relay to fail and retry")
        saved = {essay_id: event for essay_id, event in rows(db) if event is not None}
        assert len(rows(db)) == len(accepted)
        assert len(saved) == (len(accepted) if texts_stored else 0)
        server.process.kill()  # SIGKILL: no clean stop
    async with (
        TopicReader(reachable.kafka_bootstrap_servers, topic) as reader,
        outbox_service(reachable, db, log),
    ):
        await drained(db, reachable.kafka_bootstrap_servers, reader, len(accepted))
    check_events(reader, accepted, saved)
