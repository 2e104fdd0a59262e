"""A school-sized batch through the real stack, inside shrunk Temporal limits.

`make test` runs SCALE_ESSAYS=1000 with the limits of tests/scale/conftest.py; `make test-scale`
runs SCALE_ESSAYS (10,000 unless set; 100,000 is the batch cap) at the server's defaults. Each
essay has a client id of SCALE_ID_CHARS characters (64, the most; 0 lets the API make them).
Prints the wall time and the largest history seen.
"""

from __future__ import annotations

import os
import time
import uuid

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from tests.helpers import TopicReader, expected_event_ids, wait_until
from tests.scale.conftest import limits, limits_name
from tests.stack import Stack

ESSAYS = int(os.environ.get("SCALE_ESSAYS", "1000"))
ID_CHARS = int(os.environ.get("SCALE_ID_CHARS", "64"))
PAGE = 250
TEXT_BYTES = 3 * 1024


def essay(n: int, text: str) -> dict:
    if not ID_CHARS:
        return {"text": text}
    return {"text": text, "essay_id": f"e{n:0{ID_CHARS - 1}d}"}


def essay_text(n: int) -> str:
    head = f"essay {n}: "
    return head + ("Teh quick brown fox jumsp over teh lazy dog. " * 80)[: TEXT_BYTES - len(head)]


async def batch_status(stack: Stack, batch_id: str, **params) -> dict:
    response = await stack.api.get(f"/v1/batch/{batch_id}/status", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


async def histories(stack: Stack, batch_id: str) -> list[tuple[str, str, int, int]]:
    """(workflow id, status, events, bytes) of every run of the batch, newest runs included."""
    rows = []
    async for execution in stack.client.list_workflows(f'BatchId = "{batch_id}"'):
        info = (
            await stack.client.get_workflow_handle(execution.id, run_id=execution.run_id).describe()
        ).raw_description.workflow_execution_info
        rows.append(
            (execution.id, execution.status.name, info.history_length, info.history_size_bytes)
        )
    return rows


async def closed_within_limits(stack: Stack, batch_id: str) -> str:
    """Every run of the batch closed (completed or continued-as-new) inside the limits; says
    how many runs there were and which history was the largest."""
    rows = await histories(stack, batch_id)
    assert {status for _, status, _, _ in rows} <= {
        WorkflowExecutionStatus.COMPLETED.name,
        WorkflowExecutionStatus.CONTINUED_AS_NEW.name,
    }, rows
    largest_events = max(rows, key=lambda row: row[2])
    largest_bytes = max(rows, key=lambda row: row[3])
    if limits():
        assert largest_events[2] < int(limits()["limit.historyCount.error"])
    return (
        f"{len(rows)} workflow runs; largest history {largest_events[2]} events "
        f"({largest_events[0]}), {largest_bytes[3]} bytes ({largest_bytes[0]})"
    )


async def test_a_large_batch_stays_inside_the_limits(stack: Stack) -> None:
    batch_id = f"scale-{uuid.uuid4().hex[:8]}"
    texts = [essay_text(n) for n in range(ESSAYS)]
    began = time.monotonic()

    essay_ids: list[str] = []
    for start in range(0, ESSAYS, PAGE):
        page = [essay(start + i, t) for i, t in enumerate(texts[start : start + PAGE])]
        if start == 0:
            response = await stack.api.post(
                "/v1/batch", json={"batch_id": batch_id, "essays": page}, timeout=60
            )
        else:
            response = await stack.api.post(
                f"/v1/batch/{batch_id}/essays", json={"essays": page}, timeout=60
            )
        assert response.status_code == 202, response.text
        essay_ids += response.json()["essay_ids"]
    accepted_s = time.monotonic() - began

    # A retried first page is the same page: same ids, nothing new.
    again = await stack.api.post(
        "/v1/batch",
        json={"batch_id": batch_id, "essays": [essay(n, t) for n, t in enumerate(texts[:PAGE])]},
    )
    assert again.json()["essay_ids"] == essay_ids[:PAGE]
    if ID_CHARS:
        # The parent carries no essay ids across continue-as-new, yet still refuses a repeat;
        # at the cap, any page is refused as one too many.
        repeat = await stack.api.post(
            f"/v1/batch/{batch_id}/essays",
            json={"essays": [essay(ESSAYS + 1, "new"), essay(0, "a repeated id")]},
        )
        assert repeat.status_code == 409, repeat.text
        full = stack.settings.max_batch_total_essays < ESSAYS + 2
        assert ("at most" if full else essay_ids[0]) in repeat.json()["details"]

    triggered = await stack.api.post(f"/v1/batch/{batch_id}/spellcheck")
    assert triggered.status_code == 202
    assert triggered.json()["essay_count"] == ESSAYS
    late = await stack.api.post(f"/v1/batch/{batch_id}/essays", json={"essays": [{"text": "late"}]})
    assert late.status_code == 409

    async def completed():
        body = await batch_status(stack, batch_id, offset=ESSAYS // 2, limit=100)
        assert len(body["essays"]["items"]) == min(100, ESSAYS - ESSAYS // 2)
        return body if body["state"] == "completed" else None

    final = await wait_until(completed, timeout_s=600, interval_s=1, what="the batch to complete")
    assert final["counts"]["published"] == ESSAYS
    async with TopicReader(stack.settings.kafka_bootstrap_servers, stack.settings.kafka_topic) as r:
        messages = await r.read_keys({e.encode() for e in essay_ids}, timeout_s=120)
    published_s = time.monotonic() - began

    expected = await expected_event_ids(stack.client, batch_ids=[batch_id])
    async with httpx.AsyncClient(timeout=30) as http:
        for n, essay_id in enumerate(essay_ids):
            event = messages[essay_id.encode()].body
            assert event["event_id"] == expected[essay_id]
            assert event["entity_ref"]["parent_id"] == batch_id
            stored = await http.get(
                f"{stack.settings.content_service_url}/{event['text_storage_id']}"
            )
            assert stored.text == texts[n]

    print(
        f"\nscale: {ESSAYS} essays of {TEXT_BYTES} B, limits={limits_name()}: "
        f"accepted in {accepted_s:.1f}s, all events read after {published_s:.1f}s "
        f"({ESSAYS / published_s:.0f} essays/s); {await closed_within_limits(stack, batch_id)}; "
        f"parent runs: {final['workflow_runs']}"
    )


async def test_cancel_inside_the_limits(stack: Stack) -> None:
    created = await stack.api.post(
        "/v1/batch", json={"essays": [{"text": essay_text(n)} for n in range(200)]}
    )
    batch_id = created.json()["batch_id"]
    assert (await stack.api.post(f"/v1/batch/{batch_id}/cancel")).status_code == 202

    async def closed():
        body = await batch_status(stack, batch_id)
        return body if body["finished_at"] else None

    final = await wait_until(closed, timeout_s=120, what="the cancelled batch to close")
    assert final["state"] == "cancelled"
    assert final["counts"]["cancelled"] + final["counts"]["failed"] == 200
    assert final["counts"]["published"] == 0


@pytest.mark.skipif(not ID_CHARS, reason="needs client essay ids")
async def test_a_repeated_essay_id_is_refused_after_the_batch_continued_as_new(
    stack: Stack,
) -> None:
    # Many small pages: the parent's history passes the shrunk suggestion to continue-as-new.
    batch_id = f"pages-{uuid.uuid4().hex[:8]}"
    first = [essay(n, f"page essay {n}") for n in range(2)]
    created = await stack.api.post("/v1/batch", json={"batch_id": batch_id, "essays": first})
    assert created.status_code == 202, created.text
    for page in range(1, 60):
        essays = [essay(2 * page + i, f"page essay {2 * page + i}") for i in range(2)]
        added = await stack.api.post(f"/v1/batch/{batch_id}/essays", json={"essays": essays})
        assert added.status_code == 202, added.text

    async def continued() -> dict | None:
        body = await batch_status(stack, batch_id)
        return body if body["workflow_runs"] > 1 else None

    await wait_until(continued, timeout_s=60, what="the parent to continue-as-new")
    repeat = await stack.api.post(
        f"/v1/batch/{batch_id}/essays", json={"essays": [essay(1000, "new"), first[1]]}
    )
    assert repeat.status_code == 409, repeat.text
    assert first[1]["essay_id"] in repeat.json()["details"]
    assert first[0]["essay_id"] not in repeat.json()["details"]
    fresh = await stack.api.post(
        f"/v1/batch/{batch_id}/essays", json={"essays": [essay(1001, "fresh")]}
    )
    assert fresh.status_code == 202, fresh.text
