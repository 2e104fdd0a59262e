"""What an operator can do to a batch's workflows in the Temporal UI (terminate, cancel), and
what the batch's status says afterwards: always a 200 with every essay's state."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowExecutionStatus

from tests.e2e.test_batch_flow import essays, status, wait_for_state
from tests.helpers import wait_until
from tests.stack import Stack
from workflows.ids import chunk_workflow_id


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
    chunk = stack.client.get_workflow_handle(chunk_workflow_id(batch_id, 1))
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
