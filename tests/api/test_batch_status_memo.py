"""A new batch's status is read from memos, never from a worker: a chunk starts with its status
in its memo, so the API needs no query while the workers are busy (bench B4)."""

from collections.abc import Callable

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from settings import Settings
from workflows.batch import BatchWorkflow
from workflows.ids import batch_workflow_id, chunk_workflow_id


async def test_a_new_batch_s_status_needs_no_chunk_worker(
    dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(temporal_rpc_timeout_s=2, status_max_age_s=0)
    app = create_app(temporal_client=dev_env.client, settings=settings)
    # Only the parent runs: the chunk's workflow tasks fail (an unknown type), so it never
    # writes a memo itself and could answer no query.
    parent_only = Worker(
        dev_env.client, task_queue=settings.temporal_task_queue, workflows=[BatchWorkflow]
    )
    async with parent_only, app.test_app() as test_app:
        api = test_app.test_client()
        essays = [{"essay_id": f"e{n}", "text": f"essay {n}"} for n in range(3)]
        created = await api.post("/v1/batch", json={"batch_id": "memo-b1", "essays": essays})
        assert created.status_code == 202, await created.get_data()

        response = await api.get("/v1/batch/memo-b1/status")
        body = await response.get_json()
        assert response.status_code == 200, body
        assert body["counts"]["received"] == 3
        assert [(e["essay_id"], e["state"]) for e in body["essays"]["items"]] == [
            ("e0", "received"),
            ("e1", "received"),
            ("e2", "received"),
        ]
    for workflow_id in (batch_workflow_id("memo-b1"), chunk_workflow_id("memo-b1", 1)):
        await dev_env.client.get_workflow_handle(workflow_id).terminate("test over")
