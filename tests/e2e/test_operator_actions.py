"""What an operator can do to a batch's workflows in the Temporal UI (terminate, cancel), and
what the batch's status says afterwards: always a 200 with every essay's state."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowExecutionStatus

from tests.e2e.test_batch_flow import essays, status, wait_for_state
from tests.helpers import chunk_workflow_ids, wait_until
from tests.stack import Stack


async def closed(stack: Stack, workflow_id: str) -> None:
    handle = stack.client.get_workflow_handle(workflow_id)

    async def not_running() -> bool:
        return (await handle.describe()).status != WorkflowExecutionStatus.RUNNING

    await wait_until(not_running, timeout_s=30, what=f"{workflow_id} to close")


@pytest.mark.parametrize("action", ["terminate", "cancel"])
async def test_a_chunk_closed_by_an_operator_reads_as_its_essays(stack: Stack, action) -> None:
    batch_id = f"op-{uuid.uuid4().hex[:8]}"
    created = await stack.api.post(
        "/v1/batch", json={"batch_id": batch_id, "essays": essays(3, "o")}
    )
    assert created.status_code == 202, created.text
    await wait_for_state(stack, batch_id, "ready")
    [chunk_id] = await chunk_workflow_ids(stack.client, batch_id)
    chunk = stack.client.get_workflow_handle(chunk_id)
    if action == "terminate":
        await chunk.terminate(reason="operator test")
    else:
        await chunk.cancel()
    await closed(stack, chunk.id)

    async def settled():
        # The default poll (offset 0 is chunk 1), a 200 every time, until the API's cached
        # answer gives way to what the closed chunk left.
        body = await status(stack, batch_id)
        items = body["essays"]["items"]
        return items if all(e["state"] == "failed" for e in items) else None

    items = await wait_until(settled, timeout_s=30, what="the essays to read as failed")
    assert [e["essay_id"] for e in items] == created.json()["essay_ids"]
    for essay in items:
        assert "chunk" in essay["error"] and action[:6] in essay["error"]


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, object]:
    # Waiting chunks look at their batch every second, not every five minutes.
    return {"batch_check_s": 1}


async def test_a_batch_terminated_by_an_operator_still_shows_its_essays(stack: Stack) -> None:
    batch_id = f"op-{uuid.uuid4().hex[:8]}"
    created = await stack.api.post(
        "/v1/batch", json={"batch_id": batch_id, "essays": essays(4, "t")}
    )
    assert created.status_code == 202, created.text
    await wait_for_state(stack, batch_id, "ready")
    await stack.client.get_workflow_handle(f"batch-{batch_id}").terminate(reason="operator test")

    async def settled():
        # The parent's last memo survives it: its counts and its chunks, so every essay shows,
        # and the chunk, finding its batch gone untriggered, cancels them saying why.
        body = await status(stack, batch_id)
        items = body["essays"]["items"]
        done = body["state"] == "failed" and all(e["state"] == "cancelled" for e in items)
        return body if done else None

    body = await wait_until(settled, timeout_s=30, what="the essays to read as cancelled")
    assert body["counts"]["total"] == 4
    assert [e["essay_id"] for e in body["essays"]["items"]] == created.json()["essay_ids"]
    assert all("terminated" in e["error"] for e in body["essays"]["items"])
