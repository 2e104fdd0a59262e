"""BatchWorkflow and ChunkWorkflow together on the dev server (updates need it), with the
chunk activities replaced by name."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.lookups import look_at_batch, look_at_chunks, read_essay_id_hashes
from contracts.batch import (
    PUBLISH_CHUNK,
    STORE_CHUNK,
    AddPageInput,
    BatchInput,
    BatchState,
    ChunkInput,
    ChunkPlan,
    EssayText,
    PublishChunkInput,
    PublishChunkResult,
    StoreChunkInput,
    StoreChunkResult,
)
from contracts.essay import EssayState
from contracts.events import SpellcheckRequestedEvent
from contracts.ids import batch_workflow_id, chunk_key, chunk_workflow_id
from tests.helpers import chunk_workflow_ids, wait_until
from workflows.batch import BATCH_CLOSED, BATCH_CONFLICT, DUPLICATE_ESSAY, BatchWorkflow
from workflows.chunk import ChunkWorkflow


class FakeChunkActivities:
    """Store and publish stand-ins that can be told to stall, fail some, or stop halfway."""

    def __init__(self) -> None:
        self.store_calls: list[list[str]] = []
        self.published: list[str] = []
        self.flaky: set[str] = set()  # fail once, transiently
        self.rejected: set[str] = set()  # fail for good
        self.publish_stall_after: int | None = None
        self.events: list[SpellcheckRequestedEvent] = []

    @activity.defn(name=STORE_CHUNK)
    async def store(self, inp: StoreChunkInput) -> StoreChunkResult:
        self.store_calls.append(inp.essay_ids)
        result = StoreChunkResult()
        for essay_id in inp.essay_ids:
            if essay_id in self.rejected:
                result.rejected[essay_id] = "rejected with 400"
            elif essay_id in self.flaky:
                self.flaky.discard(essay_id)
            else:
                result.stored[essay_id] = uuid.uuid4().hex
        return result

    @activity.defn(name=PUBLISH_CHUNK)
    async def publish(self, inp: PublishChunkInput) -> PublishChunkResult:
        result = PublishChunkResult()
        for n, event in enumerate(inp.events):
            if self.publish_stall_after is not None and n >= self.publish_stall_after:
                # Hold until the batch is cancelled, then hand back what went out. Cancellation
                # reaches an activity only through its heartbeats, so keep sending them.
                try:
                    while not activity.is_cancelled():
                        activity.heartbeat()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(activity.wait_for_cancelled(), timeout=0.2)
                except asyncio.CancelledError:
                    pass
                return result
            essay_id = event.entity_ref.entity_id
            self.published.append(essay_id)
            self.events.append(event)
            result.published.append(essay_id)
        return result


@pytest.fixture
async def batch_env(
    dev_env: WorkflowEnvironment,
) -> AsyncIterator[tuple[Client, str, FakeChunkActivities]]:
    fakes = FakeChunkActivities()
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        dev_env.client,
        task_queue=queue,
        workflows=[BatchWorkflow, ChunkWorkflow],
        activities=[
            fakes.store,
            fakes.publish,
            look_at_batch,
            look_at_chunks,
            read_essay_id_hashes,
        ],
    ):
        yield dev_env.client, queue, fakes


def ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n}" for n in range(count)]


async def add_page(
    client: Client,
    queue: str,
    batch_id: str,
    essay_ids: list[str],
    reuse: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE,
    **extra,
):
    """What the API does: start the page's chunk, then add the page on the parent. `reuse`
    ALLOW_DUPLICATE stands for the ids' earlier workflows gone with retention."""
    key = chunk_key(uuid.uuid4().hex[:16], 0)
    await start_chunk(client, queue, batch_id, key, essay_ids, reuse)
    page = AddPageInput(
        page_digest=uuid.uuid4().hex,
        chunks=[ChunkPlan(key=key, essay_count=len(essay_ids))],
        correlation_id="corr",
        client_essay_ids=essay_ids,
        **extra,
    )
    return await client.execute_update_with_start_workflow(
        BatchWorkflow.add_page,
        page,
        start_workflow_operation=WithStartWorkflowOperation(
            BatchWorkflow.run,
            BatchInput(batch_id=batch_id, correlation_id="corr", create_digest="d0"),
            id=batch_workflow_id(batch_id),
            task_queue=queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=reuse,
        ),
    )


async def start_chunk(
    client: Client,
    queue: str,
    batch_id: str,
    key: str,
    essay_ids: list[str],
    reuse: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE,
    batch_check_s: float = 300,
    owner: str | None = None,
):
    return await client.start_workflow(
        ChunkWorkflow.run,
        ChunkInput(
            batch_id=batch_id,
            correlation_id="corr",
            essays=[EssayText(essay_id=e, text=f"text of {e}") for e in essay_ids],
            heartbeat_timeout_s=2,
            chunk_key=key,
            batch_check_s=batch_check_s,
            owner=owner,
        ),
        id=chunk_workflow_id(batch_id, key),
        task_queue=queue,
        id_reuse_policy=reuse,
    )


async def test_chunks_retry_what_did_not_get_through(batch_env) -> None:
    client, queue, fakes = batch_env
    batch_id = f"wf-{uuid.uuid4().hex[:8]}"
    first, second = ids("a", 5), ids("b", 3)
    fakes.flaky = {"a-1", "b-2"}
    fakes.rejected = {"a-4"}
    await add_page(client, queue, batch_id, first)
    await add_page(client, queue, batch_id, second)
    parent = client.get_workflow_handle_for(BatchWorkflow.run, batch_workflow_id(batch_id))
    assert (await parent.execute_update(BatchWorkflow.trigger)).essay_count == 8

    result = await parent.result()
    assert result.state == BatchState.COMPLETED
    assert (result.counts.published, result.counts.failed) == (7, 1)
    assert sorted(fakes.published) == sorted(set(first + second) - {"a-4"})
    assert ["a-1"] in fakes.store_calls and ["b-2"] in fakes.store_calls  # retried alone
    [first_chunk, _] = await chunk_workflow_ids(client, batch_id)
    chunk = await client.get_workflow_handle_for(ChunkWorkflow.run, first_chunk).result()
    states = {e.essay_id: e for e in chunk.essays}
    assert states["a-4"].state == EssayState.FAILED and "400" in states["a-4"].error
    assert all(states[e].text_storage_id for e in first if e != "a-4")


async def test_cancel_keeps_what_was_published(batch_env) -> None:
    client, queue, fakes = batch_env
    batch_id = f"wf-{uuid.uuid4().hex[:8]}"
    fakes.publish_stall_after = 4
    await add_page(client, queue, batch_id, ids("c", 10))
    parent = client.get_workflow_handle_for(BatchWorkflow.run, batch_workflow_id(batch_id))
    await parent.execute_update(BatchWorkflow.trigger)

    async def four_published() -> bool:
        return len(fakes.published) >= 4

    await wait_until(four_published, timeout_s=20, what="four events out")
    await parent.execute_update(BatchWorkflow.cancel)
    result = await parent.result()
    assert result.state == BatchState.CANCELLED
    assert (result.counts.published, result.counts.cancelled) == (4, 6)


async def test_pages_are_refused_once_closed_or_clashing(batch_env) -> None:
    client, queue, fakes = batch_env
    fakes.publish_stall_after = 0  # the batch stays open after its trigger until cancelled
    batch_id = f"wf-{uuid.uuid4().hex[:8]}"
    await add_page(client, queue, batch_id, ids("d", 2))
    parent = client.get_workflow_handle_for(BatchWorkflow.run, batch_workflow_id(batch_id))

    async def refused(essay_ids: list[str], **extra) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await add_page(client, queue, batch_id, essay_ids, **extra)
        cause = caught.value.cause
        assert isinstance(cause, ApplicationError)
        return cause.type or ""

    assert await refused(["d-1"]) == DUPLICATE_ESSAY
    assert await refused(ids("e", 1), create_digest="other") == BATCH_CONFLICT
    await parent.execute_update(BatchWorkflow.trigger)
    assert await refused(ids("f", 1)) == BATCH_CLOSED
    await parent.execute_update(BatchWorkflow.cancel)
    result = await parent.result()
    assert (result.state, result.counts.cancelled) == (BatchState.CANCELLED, 2)


async def test_the_same_ids_accepted_again_after_retention_get_new_event_ids(batch_env) -> None:
    client, queue, fakes = batch_env
    batch_id = f"class-9b-{uuid.uuid4().hex[:6]}"
    parent = client.get_workflow_handle_for(BatchWorkflow.run, batch_workflow_id(batch_id))
    for term in ("autumn", "spring"):
        await add_page(
            client, queue, batch_id, ["anna-1"], reuse=WorkflowIDReusePolicy.ALLOW_DUPLICATE
        )
        await parent.execute_update(BatchWorkflow.trigger)
        assert (await parent.result()).counts.published == 1, term
    autumn, spring = fakes.events
    assert autumn.entity_ref == spring.entity_ref
    assert autumn.event_id != spring.event_id
