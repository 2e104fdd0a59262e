"""A trigger or cancel whose answer was lost (a 503 after the update may have applied) is sent
again with the same Idempotency-Key and gets its first answer; any other repeat is a 409 that
says what the batch is now."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowExecutionStatus

from tests.e2e.test_batch_flow import essays, wait_for_state
from tests.helpers import wait_until
from tests.stack import Stack


@pytest.mark.parametrize("action", ["spellcheck", "cancel"])
async def test_a_repeated_close_with_its_key_gets_its_first_answer(
    stack: Stack, action: str
) -> None:
    batch_id = f"close-{uuid.uuid4().hex[:8]}"
    created = await stack.api.post(
        "/v1/batch", json={"batch_id": batch_id, "essays": essays(3, "c")}
    )
    assert created.status_code == 202, created.text
    url = f"/v1/batch/{batch_id}/{action}"
    key = {"Idempotency-Key": f"close-{uuid.uuid4()}"}

    first = await stack.api.post(url, headers=key)
    assert first.status_code == 202, first.text
    again = await stack.api.post(url, headers=key)
    assert (again.status_code, again.json()) == (202, first.json())

    for other in ({"Idempotency-Key": f"other-{uuid.uuid4()}"}, {}):
        refused = await stack.api.post(url, headers=other)
        assert refused.status_code == 409, refused.text
        state = "cancelled" if action == "cancel" else "spellcheck_requested|completed"
        details = refused.json()["details"]
        assert any(f"the batch is {s}" in details for s in state.split("|")), details

    await wait_for_state(stack, batch_id, "cancelled" if action == "cancel" else "completed")
    await wait_until(lambda: closed(stack, batch_id), timeout_s=60, what="the batch to close")
    still = await stack.api.post(url, headers=key)  # its workflow closed: no update reaches it
    assert (still.status_code, still.json()) == (202, first.json())
    refused = await stack.api.post(url, headers={"Idempotency-Key": f"other-{uuid.uuid4()}"})
    assert refused.status_code == 409, refused.text


async def closed(stack: Stack, batch_id: str) -> bool:
    description = await stack.client.get_workflow_handle(f"batch-{batch_id}").describe()
    return description.status != WorkflowExecutionStatus.RUNNING
