"""A new batch's status is read from memos, never from a worker: a chunk starts with its status
in its memo, so the API needs no query while the workers are busy (bench B4). And its first
page of status is known to the API that created it, before any read."""

import contextlib
from collections.abc import AsyncIterator, Callable

from quart import Quart
from quart.testing import QuartClient
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from api.batches.paging import DEFAULT_LIMIT
from api.temporal import STATUS_CACHE
from contracts.ids import batch_workflow_id
from settings import Settings
from tests.helpers import chunk_workflow_ids
from workflows.batch import BatchWorkflow


@contextlib.asynccontextmanager
async def parent_only_api(
    dev_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[tuple[Quart, QuartClient]]:
    """The app, and a worker that runs only the parent: a chunk's workflow tasks fail (an
    unknown type), so it never writes a memo itself and could answer no query."""
    app = create_app(temporal_client=dev_env.client, settings=settings)
    parent_only = Worker(
        dev_env.client, task_queue=settings.batch_task_queue, workflows=[BatchWorkflow]
    )
    async with parent_only, app.test_app() as test_app:
        yield app, test_app.test_client()


async def terminate(dev_env: WorkflowEnvironment, batch_id: str, chunks: int) -> None:
    chunk_ids = await chunk_workflow_ids(dev_env.client, batch_id)
    assert len(chunk_ids) == chunks
    for workflow_id in [batch_workflow_id(batch_id), *chunk_ids]:
        await dev_env.client.get_workflow_handle(workflow_id).terminate("test over")


async def test_a_new_batch_s_status_needs_no_chunk_worker(
    dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(temporal_rpc_timeout_s=2, status_max_age_s=0)
    async with parent_only_api(dev_env, settings) as (_, api):
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
    await terminate(dev_env, "memo-b1", chunks=1)


async def test_a_new_batch_s_first_status_page_is_known_before_any_read(
    dev_env: WorkflowEnvironment, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(temporal_rpc_timeout_s=2, status_max_age_s=60)
    async with parent_only_api(dev_env, settings) as (app, api):
        # Two chunks (the byte cap splits them), so the first page spans both.
        essays = [{"essay_id": f"e{n}", "text": "x" * 150_000} for n in range(4)]
        created = await api.post("/v1/batch", json={"batch_id": "seed-b1", "essays": essays})
        assert created.status_code == 202, await created.get_data()

        async def no_read() -> None:
            raise AssertionError("the first page was read from the server")

        # The open API's client is None; the key of `GET /v1/batch/seed-b1/status`.
        key = (None, "seed-b1", 0, DEFAULT_LIMIT)
        answer, _ = await app.extensions[STATUS_CACHE].get(key, no_read)
        seeded = answer.body()
        # What the workflows answer, read from the server: another page size is another key.
        response = await api.get(f"/v1/batch/seed-b1/status?limit={DEFAULT_LIMIT - 1}")
        read = await response.get_json()
        assert response.status_code == 200, read

    assert [e["essay_id"] for e in seeded["essays"]["items"]] == ["e0", "e1", "e2", "e3"]
    assert seeded["essays"]["items"][: DEFAULT_LIMIT - 1] == read["essays"]["items"]
    assert seeded["essays"]["total"] == read["essays"]["total"] == 4
    # The page size; the backlog's age moves with the clock; the version counts memo writes,
    # and a chunk's report can rewrite the memo unchanged.
    volatile = ("essays", "backlog", "version")
    assert {k: v for k, v in seeded.items() if k not in volatile} == {
        k: v for k, v in read.items() if k not in volatile
    }
    assert seeded["backlog"]["essays"] == read["backlog"]["essays"] == 4
    await terminate(dev_env, "seed-b1", chunks=2)
