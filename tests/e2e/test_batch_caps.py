"""A batch's caps: at most MAX_BATCH_TOTAL_ESSAYS essays in at most MAX_BATCH_PAGES pages. A page
past either is a 409 that names them, and its chunks, never taken, go at once."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowExecutionStatus

from contracts.ids import BATCH_ID
from tests.e2e.test_batch_flow import essays, wait_for_state
from tests.helpers import wait_until
from tests.stack import Stack


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, object]:
    return {"max_batch_total_essays": 5, "max_batch_pages": 3}


async def test_pages_past_the_caps_are_refused_and_leave_nothing_running(stack: Stack) -> None:
    batch_id = f"caps-{uuid.uuid4().hex[:8]}"
    created = await stack.api.post(
        "/v1/batch", json={"batch_id": batch_id, "essays": essays(2, "a")}
    )
    assert created.status_code == 202, created.text

    async def page(count: int, label: str):
        return await stack.api.post(
            f"/v1/batch/{batch_id}/essays", json={"essays": essays(count, label)}
        )

    assert (await page(2, "b")).status_code == 202
    too_many = await page(2, "c")  # 6 essays
    assert too_many.status_code == 409
    assert "at most 5 essays in at most 3 pages" in too_many.json()["details"]
    assert (await page(1, "d")).status_code == 202  # 5 essays, 3 pages
    assert (await page(1, "e")).status_code == 409  # a fourth page

    assert (await stack.api.post(f"/v1/batch/{batch_id}/spellcheck")).status_code == 202
    done = await wait_for_state(stack, batch_id, "completed")
    assert done["counts"]["published"] == 5

    async def nothing_running() -> bool:
        running = stack.client.list_workflows(
            f'{BATCH_ID.name} = "{batch_id}" AND ExecutionStatus = "Running"'
        )
        return not [w async for w in running]

    await wait_until(nothing_running, timeout_s=30, what="the refused pages' chunks to end")
    statuses = {
        w.status async for w in stack.client.list_workflows(f'{BATCH_ID.name} = "{batch_id}"')
    }
    assert statuses == {WorkflowExecutionStatus.COMPLETED}
