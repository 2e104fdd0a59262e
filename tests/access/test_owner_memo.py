"""Ownership rests on the `owner` memo outliving continue-as-new and the workflows' own memo
upserts: checked on the real dev server with a workflow that does both as ours do."""

import uuid

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.access.owners import OWNER_MEMO
from tests.access.memo_workflow import ContinuesOnce
from tests.helpers import wait_until


async def test_the_owner_outlives_continue_as_new_and_memo_upserts(
    dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    workflow_id = f"memo-{uuid.uuid4()}"
    async with Worker(dev_env.client, task_queue=task_queue, workflows=[ContinuesOnce]):
        handle = await dev_env.client.start_workflow(
            ContinuesOnce.run,
            False,
            id=workflow_id,
            task_queue=task_queue,
            memo={OWNER_MEMO: "alice"},
        )
        assert await handle.result() == "done"  # follows the run it continued as

    async def two_runs() -> bool:  # visibility lags the runs a little
        query = f'WorkflowId = "{workflow_id}"'
        return len([w async for w in dev_env.client.list_workflows(query)]) == 2

    await wait_until(two_runs, timeout_s=10, what="both runs to be listed")
    latest = await dev_env.client.get_workflow_handle(workflow_id).describe()
    assert await latest.memo_value("status") == "continued"
    assert await latest.memo_value(OWNER_MEMO) == "alice"
