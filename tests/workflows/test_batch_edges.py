"""A batch's parent and chunks across long absences and operators' actions, on the dev
server, with the batch's looks every second instead of every five minutes.

Chunks run on a task queue of their own here, so a test can take their worker away while the
parent's stays: the worst case of a deploy gone wrong, where a batch was triggered and its
chunks have not yet run a single workflow task. (The time-skipping server skips no time while
a workflow task waits for a worker, so it cannot stand in for a worker that is away.)
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.lookups import look_at_batch, look_at_chunks, read_essay_id_hashes
from contracts.batch import (
    AddPageInput,
    BatchInput,
    BatchState,
    ChunkPlan,
)
from contracts.essay import EssayState
from contracts.ids import batch_workflow_id, chunk_key
from tests.helpers import wait_until
from tests.workflows.test_batch_workflows import FakeChunkActivities, ids, start_chunk
from workflows.batch import BatchWorkflow
from workflows.chunk import ChunkWorkflow

CHECK = timedelta(seconds=1)
DEADLINE_S = 60


@dataclass
class Queues:
    client: Client
    env: WorkflowEnvironment
    parents: str
    chunks: str
    fakes: FakeChunkActivities

    def chunk_worker(self) -> Worker:
        return Worker(
            self.client,
            task_queue=self.chunks,
            workflows=[ChunkWorkflow],
            activities=[self.fakes.store, self.fakes.publish, look_at_batch],
        )


@pytest.fixture
async def queues(dev_env: WorkflowEnvironment) -> AsyncIterator[Queues]:
    fakes = FakeChunkActivities()
    parents, chunks = f"tq-{uuid.uuid4()}", f"tq-{uuid.uuid4()}"
    async with Worker(
        dev_env.client,
        task_queue=parents,
        workflows=[BatchWorkflow],
        activities=[look_at_chunks, read_essay_id_hashes],
    ):
        yield Queues(dev_env.client, dev_env, parents, chunks, fakes)


async def looks(handle: WorkflowHandle) -> int:
    """How many times the parent's wait ran out and it looked at its silent chunks."""
    history = await handle.fetch_history()
    return sum(1 for e in history.events if e.HasField("timer_fired_event_attributes"))


async def looks_in_every_run(client: Client, workflow_id: str) -> int:
    """`looks` summed over every run of a workflow that has continued-as-new."""
    total = 0
    async for run in client.list_workflows(f'WorkflowId = "{workflow_id}"'):
        total += await looks(client.get_workflow_handle(workflow_id, run_id=run.run_id))
    return total


async def result_within(handle: WorkflowHandle):
    return await asyncio.wait_for(handle.result(), timeout=DEADLINE_S)


async def new_batch(
    q: Queues, count: int, owner: str | None = None
) -> tuple[WorkflowHandle, WorkflowHandle, list[str]]:
    """What the API does: the chunk started first, the parent's update second."""
    batch_id = f"edge-{uuid.uuid4().hex[:8]}"
    essay_ids = ids("e", count)
    key = chunk_key(uuid.uuid4().hex[:16], 0)
    chunk = await start_chunk(
        q.client,
        q.chunks,
        batch_id,
        key,
        essay_ids,
        batch_check_s=CHECK.total_seconds(),
        owner=owner,
    )
    parent = await q.client.start_workflow(
        BatchWorkflow.run,
        BatchInput(
            batch_id=batch_id,
            correlation_id="corr",
            create_digest="d0",
            batch_check_s=CHECK.total_seconds(),
        ),
        id=batch_workflow_id(batch_id),
        task_queue=q.parents,
    )
    await parent.execute_update(
        BatchWorkflow.add_page,
        AddPageInput(
            page_digest=uuid.uuid4().hex,
            chunks=[ChunkPlan(key=key, essay_count=count)],
            correlation_id="corr",
        ),
    )
    return parent, chunk, essay_ids


# How long the chunks' worker is away, counted in the parent's looks at its silent chunks
# (every BATCH_CHECK_S, 300 s by default): nothing else in a batch counts time. The dev server
# fires timers on a one-second tick, so two days' looks take ten minutes: `make test-absence`.
DEFAULT_CHECK_S = 300
ABSENCES = {"ten minutes": 10 * 60, "two days": 2 * 24 * 3600}
LONG_ABSENCE = os.environ.get("LONG_ABSENCE") == "1"


@pytest.mark.parametrize(
    "absence",
    [
        "ten minutes",
        pytest.param(
            "two days", marks=pytest.mark.skipif(not LONG_ABSENCE, reason="make test-absence")
        ),
    ],
)
async def test_a_triggered_batch_waits_for_chunks_however_long_their_worker_is_away(
    queues: Queues, absence: str
) -> None:
    parent, _, essay_ids = await new_batch(queues, 5)
    await parent.execute_update(BatchWorkflow.trigger)

    # No chunk worker: not one chunk task runs while the parent looks at its silent chunk as
    # many times as it would over the whole absence at the default period.
    periods = ABSENCES[absence] // DEFAULT_CHECK_S

    async def away_long_enough() -> bool:
        return await looks_in_every_run(queues.client, parent.id) >= periods

    await wait_until(
        away_long_enough,
        timeout_s=periods * 2 * CHECK.total_seconds() + DEADLINE_S,
        what=f"{periods} looks at the silent chunk",
        interval_s=1,
    )
    async with queues.chunk_worker():
        result = await result_within(parent)
    assert result.state == BatchState.COMPLETED
    assert (result.counts.published, result.counts.cancelled) == (5, 0)
    assert sorted(queues.fakes.published) == sorted(essay_ids)


async def test_a_chunk_of_a_terminated_untriggered_batch_cancels_its_essays_saying_why(
    queues: Queues,
) -> None:
    parent, chunk, _ = await new_batch(queues, 3)
    async with queues.chunk_worker():
        await parent.terminate("operator test")
        final = await result_within(chunk)
    assert {e.state for e in final.essays} == {EssayState.CANCELLED}
    assert all("terminated" in (e.error or "") for e in final.essays)
    assert queues.fakes.published == []


async def test_a_chunk_of_a_batch_terminated_after_its_trigger_still_publishes(
    queues: Queues,
) -> None:
    parent, chunk, essay_ids = await new_batch(queues, 3)
    await parent.execute_update(BatchWorkflow.trigger)
    await parent.terminate("operator test")  # whether or not its command went out
    async with queues.chunk_worker():
        final = await result_within(chunk)
    assert {e.state for e in final.essays} == {EssayState.PUBLISHED}
    assert sorted(queues.fakes.published) == sorted(essay_ids)


async def test_a_batch_settles_a_chunk_an_operator_terminated(queues: Queues) -> None:
    parent, chunk, _ = await new_batch(queues, 4)
    await chunk.terminate("operator test")
    await parent.execute_update(BatchWorkflow.trigger)
    result = await result_within(parent)
    assert result.state == BatchState.COMPLETED
    assert (result.counts.failed, result.counts.published) == (4, 0)


async def test_a_chunk_its_batch_never_took_cancels_itself_once_the_batch_closes(
    queues: Queues,
) -> None:
    parent, _, _ = await new_batch(queues, 1)
    # A page whose request died between its chunk's start and the parent's update.
    key = chunk_key(uuid.uuid4().hex[:16], 0)
    batch_id = parent.id.removeprefix("batch-")
    stray = await start_chunk(
        queues.client, queues.chunks, batch_id, key, ["stray"], batch_check_s=CHECK.total_seconds()
    )
    async with queues.chunk_worker():
        await parent.execute_update(BatchWorkflow.trigger)
        assert (await result_within(parent)).counts.published == 1
        final = await result_within(stray)
    assert [e.state for e in final.essays] == [EssayState.CANCELLED]
    assert "stray" not in queues.fakes.published


async def test_a_chunk_its_batch_took_stays_whoever_owns_the_batch(queues: Queues) -> None:
    # API keys turned on after an open batch was created: a page a keyed client added is the
    # batch's all the same, and its chunk keeps waiting through its looks.
    parent, chunk, essay_ids = await new_batch(queues, 2, owner="alice")
    async with queues.chunk_worker():

        async def looked_often() -> bool:
            return await looks(chunk) >= 3

        await wait_until(looked_often, timeout_s=DEADLINE_S, what="three looks at the batch")
        await parent.execute_update(BatchWorkflow.trigger)
        final = await result_within(chunk)
    assert {e.state for e in final.essays} == {EssayState.PUBLISHED}
