"""A batch's status: counts and backlog from the parent, a page of essays from its chunks.

A running workflow keeps its status in its memo, rewritten by every workflow task that changes
it, so the API reads it with the same `describe` call that tells running from closed, and needs
no worker: under load a busy worker answers queries only after seconds (bench B4). A query
serves only a workflow too new to have written its memo. Closed workflows are read from their
results. The cost is one parent and at most two chunk look-ups, whatever the batch's size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from temporalio.client import (
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.service import RPCError, RPCStatusCode

from api.access.owners import describe_owned, is_ours
from api.batches.answers import BatchEssay, BatchStatusAnswer, EssayPage
from api.http.errors import TIMEOUT_CODES, service_unavailable
from api.temporal import rpc_timeout, temporal
from contracts.batch import (
    STATUS_MEMO,
    STORE_CHUNK,
    BatchState,
    BatchStatus,
    ChunkRef,
    ChunkStatus,
    EssayCounts,
)
from contracts.essay import EssayState
from contracts.ids import BATCH_WORKFLOW, CHUNK_WORKFLOW, batch_workflow_id, chunk_workflow_id
from workflows.batch import BatchWorkflow
from workflows.chunk import ChunkWorkflow

Status = TypeVar("Status")


def parent_handle(batch_id: str) -> WorkflowHandle:
    """The batch's parent, typed, so its result and queries decode as BatchStatus."""
    return temporal().get_workflow_handle_for(BatchWorkflow.run, batch_workflow_id(batch_id))


async def batch_or_404(batch_id: str) -> WorkflowExecutionDescription:
    """The batch's parent, running or closed, if it exists and is this client's."""
    handle = temporal().get_workflow_handle(batch_workflow_id(batch_id))
    return await describe_owned(handle, BATCH_WORKFLOW, f"no batch with id {batch_id}")


async def _query(handle: WorkflowHandle, query: Callable[[Any], Status]) -> Status:
    try:
        return await handle.query(query, rpc_timeout=rpc_timeout())
    except RPCError as exc:
        if exc.status in TIMEOUT_CODES:
            raise service_unavailable(
                "no worker answered the status query; retry shortly"
            ) from None
        raise


async def parent_status(handle: WorkflowHandle, batch_id: str) -> BatchStatus:
    """The parent's status: its memo while it runs, its result once completed, and its last
    memo when an operator terminated or cancelled it (or it failed), so its essays still show."""
    description = await describe_owned(handle, BATCH_WORKFLOW, f"no batch with id {batch_id}")
    if description.status == WorkflowExecutionStatus.COMPLETED:
        return await handle.result(rpc_timeout=rpc_timeout())
    memo = await description.memo_value(STATUS_MEMO, None, type_hint=BatchStatus)
    if description.status == WorkflowExecutionStatus.RUNNING:
        return memo or await _query(handle, BatchWorkflow.status)
    if memo is not None:
        return memo.model_copy(update={"state": BatchState.FAILED})
    return BatchStatus(
        batch_id=batch_id,
        state=BatchState.FAILED,
        correlation_id=str((await description.memo()).get("correlation_id", "")),
        counts=EssayCounts(),
        created_at=description.start_time,
    )


async def _chunk_entries(batch_id: str, key: str) -> list[BatchEssay]:
    handle = temporal().get_workflow_handle_for(ChunkWorkflow.run, chunk_workflow_id(batch_id, key))
    try:
        description = await handle.describe(rpc_timeout=rpc_timeout())
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return []  # gone (deleted by an operator): nothing of it to show
        raise
    if not await is_ours(description, CHUNK_WORKFLOW):
        return []  # not this batch's chunk: nothing of it is shown
    if description.status == WorkflowExecutionStatus.COMPLETED:
        result = await handle.result(rpc_timeout=rpc_timeout())
        return [BatchEssay.of(e) for e in result.essays]
    last = await description.memo_value(STATUS_MEMO, None, type_hint=ChunkStatus)
    if description.status != WorkflowExecutionStatus.RUNNING:
        # Terminated, cancelled or timed out by an operator, or failed: no result, only its
        # last memo. What it still owed an event will not get one from it.
        reason = f"its chunk workflow was {description.status.name.lower()}"
        return [BatchEssay.of(e) for e in last.closed_by(reason).essays] if last else []
    status = last or await _query(handle, ChunkWorkflow.status)
    retrying = [p for p in description.raw_description.pending_activities if p.attempt > 1]
    entries = []
    for essay in status.essays:
        entry = BatchEssay.of(essay)
        for pending in retrying:
            step_state = (
                EssayState.RECEIVED
                if pending.activity_type.name == STORE_CHUNK
                else EssayState.STORED
            )
            if essay.state == step_state:
                entry.retrying_step = pending.activity_type.name
                entry.attempts = pending.attempt
                entry.last_error = pending.last_failure.message or None
        entries.append(entry)
    return entries


async def _essay_page(
    batch_id: str, chunks: list[ChunkRef], offset: int, limit: int
) -> list[BatchEssay]:
    items: list[BatchEssay] = []
    first = 0  # index of the chunk's first essay in the batch
    for chunk in chunks:
        last = first + chunk.essay_count
        if last > offset and first < offset + limit:
            entries = await _chunk_entries(batch_id, chunk.key)
            items.extend(entries[max(0, offset - first) : offset + limit - first])
        first = last
        if first >= offset + limit:
            break
    return items


async def batch_status(batch_id: str, offset: int, limit: int) -> BatchStatusAnswer:
    status = await parent_status(parent_handle(batch_id), batch_id)
    total = sum(c.essay_count for c in status.chunks)
    items = await _essay_page(batch_id, status.chunks, offset, limit)
    return BatchStatusAnswer.of(status, EssayPage.of(offset, limit, total, items))


def new_batch_page(
    status: BatchStatus, chunks: list[ChunkStatus], offset: int, limit: int
) -> BatchStatusAnswer:
    """The status answer for a batch this API has just created, from what it knows without
    reading: the parent's status as the create answered it, and every chunk as it starts."""
    entries = [BatchEssay.of(essay) for chunk in chunks for essay in chunk.essays]
    total = sum(c.essay_count for c in status.chunks)
    page = EssayPage.of(offset, limit, total, entries[offset : offset + limit])
    return BatchStatusAnswer.of(status, page)


def with_parent_status(answer: BatchStatusAnswer, status: BatchStatus) -> BatchStatusAnswer:
    """`answer` with what the parent's `status` says (state, counts, times); its page of
    essays is kept as it was read."""
    return BatchStatusAnswer.of(status, answer.essays)
