"""What a batch's workflows look up about each other on the server: a waiting chunk about its
parent, a closing parent about its silent chunks. Chunks are not child workflows (the API
starts them, so their texts stay out of the parent's history), so no parent-close policy or
child-closed event tells either side that the other is gone: they look."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import WorkflowExecutionDescription, WorkflowExecutionStatus

from contracts.batch import (
    LOOK_AT_BATCH,
    LOOK_AT_CHUNKS,
    READ_ESSAY_ID_HASHES,
    STATUS_MEMO,
    BatchLook,
    BatchStatus,
    ChunkLook,
    ChunksLook,
    ChunkStatus,
    IdHashes,
    LookAtBatchInput,
    LookAtChunksInput,
    encode_hashes,
    essay_id_hash,
)
from contracts.ids import (
    BATCH_WORKFLOW,
    CHUNK_WORKFLOW,
    OWNER_MEMO,
    batch_workflow_id,
    chunk_workflow_id,
)
from temporal_client import describe_if_any

# Describes in flight at once when a parent looks at its chunks.
LOOKS_AT_ONCE = 16


def _closed_as(description: WorkflowExecutionDescription) -> str:
    return description.status.name.lower() if description.status else "closed"


@activity.defn(name=LOOK_AT_BATCH)
async def look_at_batch(inp: LookAtBatchInput) -> BatchLook:
    client = activity.client()
    workflow_id = batch_workflow_id(inp.batch_id)
    description = await describe_if_any(client, workflow_id)
    if description is None:
        return BatchLook(exists=False, reason=f"its batch {inp.batch_id} was never created")
    in_use = BatchLook(closed_for_pages=True, reason=f"batch id {inp.batch_id} is in use")
    if description.workflow_type != BATCH_WORKFLOW:
        return in_use  # its create was refused: the id is held by something else
    running = description.status == WorkflowExecutionStatus.RUNNING
    if description.status == WorkflowExecutionStatus.COMPLETED:
        status = await client.get_workflow_handle(workflow_id, result_type=BatchStatus).result()
    else:  # running, or closed by an operator or a failure: its last memo
        status = await description.memo_value(STATUS_MEMO, None, type_hint=BatchStatus)
    assigned = status is not None and any(c.key == inp.chunk_key for c in status.chunks)
    if not assigned and await description.memo_value(OWNER_MEMO, None) != inp.owner:
        # Another client's batch (its create under the id was refused) never takes this
        # chunk; one the batch took stays its own, whoever owns what since keys were turned on.
        return in_use
    if status is None:  # too new to have written its memo: nothing assigned yet
        return BatchLook(running=running, reason=f"its batch's workflow {_closed_as(description)}")
    cancelled = status.cancelled_at is not None
    look = BatchLook(
        running=running,
        assigned=assigned,
        triggered=status.triggered_at is not None and not cancelled,
        closed_for_pages=cancelled or status.triggered_at is not None,
    )
    if not look.assigned and look.closed_for_pages:
        look.reason = "its page was never added to the batch, which is closed"
    elif not running:
        look.reason = f"its batch's workflow was {_closed_as(description)}"
    return look


@activity.defn(name=LOOK_AT_CHUNKS)
async def look_at_chunks(inp: LookAtChunksInput) -> ChunksLook:
    client = activity.client()
    slots = asyncio.Semaphore(LOOKS_AT_ONCE)

    async def look(key: str) -> ChunkLook:
        workflow_id = chunk_workflow_id(inp.batch_id, key)
        async with slots:
            description = await describe_if_any(client, workflow_id)
            if description is None or description.workflow_type != CHUNK_WORKFLOW:
                return ChunkLook(key=key, running=False, reason="its chunk workflow is gone")
            if description.status == WorkflowExecutionStatus.RUNNING:
                return ChunkLook(key=key, running=True)
            if description.status == WorkflowExecutionStatus.COMPLETED:
                handle = client.get_workflow_handle(workflow_id, result_type=ChunkStatus)
                final = await handle.result()
                return ChunkLook(key=key, running=False, counts=final.counts(), reason="done")
            reason = f"its chunk workflow was {_closed_as(description)}"
            last = await description.memo_value(STATUS_MEMO, None, type_hint=ChunkStatus)
            counts = last.closed_by(reason).counts() if last else None
            return ChunkLook(key=key, running=False, counts=counts, reason=reason)

    chunks = await asyncio.gather(*(look(key) for key in inp.keys))
    return ChunksLook(chunks=list(chunks))


@activity.defn(name=READ_ESSAY_ID_HASHES)
async def read_essay_id_hashes(inp: LookAtChunksInput) -> IdHashes:
    """The hashes of every essay id the chunks hold, read from their memos: what a batch that
    continued-as-new needs to refuse a repeated id, without carrying the ids along."""
    client = activity.client()
    slots = asyncio.Semaphore(LOOKS_AT_ONCE)

    async def ids_of(key: str) -> list[str]:
        async with slots:
            description = await describe_if_any(client, chunk_workflow_id(inp.batch_id, key))
            if description is None or description.workflow_type != CHUNK_WORKFLOW:
                return []
            status = await description.memo_value(STATUS_MEMO, None, type_hint=ChunkStatus)
            return [e.essay_id for e in status.essays] if status else []

    found = await asyncio.gather(*(ids_of(key) for key in inp.keys))
    return IdHashes(hashes=encode_hashes(essay_id_hash(e) for ids in found for e in ids))
