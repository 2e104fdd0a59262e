"""One correlation id followed through the logs of every process and onto the Kafka event."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.helpers import TopicReader, chunk_workflow_ids, wait_until
from tests.observability.conftest import ObservedStack
from tests.observability.reading import json_lines


def lines_with(path: Path, correlation_id: str) -> list[dict]:
    return [line for line in json_lines(path) if line.get("correlation_id") == correlation_id]


async def wait_for_line(path: Path, correlation_id: str, message: str) -> list[dict]:
    """All of the file's lines with the id, once one of them says `message`."""

    async def logged() -> list[dict] | None:
        lines = lines_with(path, correlation_id)
        return lines if any(line["message"] == message for line in lines) else None

    return await wait_until(logged, timeout_s=20, what=f"{message!r} in {path.name}")


def one(lines: list[dict], message: str) -> dict:
    [line] = [line for line in lines if line["message"] == message]
    return line


async def test_an_essay_is_followed_by_its_correlation_id(
    observed: ObservedStack,
) -> None:
    correlation_id = f"corr-trace-{uuid.uuid4()}"
    response = await observed.api.post(
        "/v1/trigger-spellcheck",
        json={"text": "Helo wrold, traced"},
        headers={"X-Correlation-ID": correlation_id},
    )
    assert response.status_code == 202
    essay_id = response.json()["essay_id"]
    async with TopicReader(observed.broker.address, observed.topic) as reader:
        event = (await reader.read_keys({essay_id.encode()}, timeout_s=30))[essay_id.encode()]
    assert event.headers["correlation_id"] == correlation_id.encode()

    api = await wait_for_line(observed.api_log, correlation_id, "essay accepted")
    assert one(api, "essay accepted")["essay_id"] == essay_id
    access = one(api, f"POST /v1/trigger-spellcheck {202}")
    assert (access["method"], access["status"], access["logger"]) == (
        "POST",
        202,
        "hypercorn.access",
    )
    assert access["duration_ms"] > 0

    worker = await wait_for_line(observed.worker_log, correlation_id, "essay published")
    workflow_lines = [one(worker, "essay stored"), one(worker, "essay published")]
    activity_lines = [one(worker, "stored essay"), one(worker, "published event")]
    for line in workflow_lines + activity_lines:
        assert line["essay_id"] == essay_id
    for line in workflow_lines:
        assert line["temporal_workflow"]["workflow_id"] == f"essay-{essay_id}"
    for line in activity_lines:
        assert line["temporal_activity"]["workflow_id"] == f"essay-{essay_id}"
    published = one(worker, "published event")
    assert published["event_id"] == event.headers["event_id"].decode()
    assert published["message"] == "published event"  # the SDK's info is a field, not text

    # The content store gets the id as a header from the store activity.
    content_log = observed.content_store.process.log_path
    assert content_log is not None
    [stored] = lines_with(content_log, correlation_id)
    assert stored["message"] == "content stored"
    assert stored["storage_id"] == event.body["text_storage_id"]


async def test_a_batch_is_followed_by_its_correlation_id(observed: ObservedStack) -> None:
    correlation_id = f"corr-batch-{uuid.uuid4()}"
    batch_id = f"logs-{uuid.uuid4().hex[:8]}"
    created = await observed.api.post(
        "/v1/batch",
        json={"batch_id": batch_id, "essays": [{"text": f"essay {n}"} for n in range(3)]},
        headers={"X-Correlation-ID": correlation_id},
    )
    assert created.status_code == 202
    essay_ids = created.json()["essay_ids"]
    assert (await observed.api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
    async with TopicReader(observed.broker.address, observed.topic) as reader:
        events = await reader.read_keys({e.encode() for e in essay_ids}, timeout_s=30)
    ours = [events[e.encode()] for e in essay_ids]  # the topic holds other tests' events too
    assert {m.headers["correlation_id"] for m in ours} == {correlation_id.encode()}

    api = await wait_for_line(observed.api_log, correlation_id, "batch page accepted")
    assert one(api, "batch page accepted")["batch_id"] == batch_id
    triggered = [
        line for line in json_lines(observed.api_log) if line["message"] == "batch triggered"
    ]
    assert batch_id in {line.get("batch_id") for line in triggered}  # bound from the path

    worker = await wait_for_line(observed.worker_log, correlation_id, "published chunk")
    chunk_ids = await chunk_workflow_ids(observed.client, batch_id)
    for message in ("stored chunk", "published chunk"):
        line = one(worker, message)
        assert line["batch_id"] == batch_id
        assert line["temporal_activity"]["workflow_id"] == chunk_ids[0]


async def test_every_line_of_the_api_and_the_worker_is_one_json_object(
    observed: ObservedStack,
) -> None:
    for path in (observed.api_log, observed.worker_log):
        lines = list(json_lines(path))  # json.loads fails on any line that is not JSON
        assert lines and all({"time", "level", "logger", "message"} <= set(x) for x in lines)
