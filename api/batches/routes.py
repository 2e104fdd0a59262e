"""Batches: create, add pages, trigger, cancel, status.

- `POST /v1/batch` and `POST /v1/batch/<id>/essays`: the parent assigns the page's chunk numbers
  (an update, so a page after the trigger is refused at once), then the API starts the chunk
  workflows with the texts. Both steps are idempotent, so a retried request is safe.
- `POST /v1/batch/<id>/spellcheck` and `.../cancel`: updates on the parent.
- `GET /v1/batch/<id>/status`: see `batch_status`, answered through `status_cache`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from quart import Blueprint, request
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowExecutionDescription,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.access.auth import current_client
from api.access.owners import id_in_use, is_ours, owner_memo, scoped
from api.batches.answers import (
    BatchAccepted,
    BatchCancelled,
    BatchRetried,
    BatchTriggered,
    status_url,
)
from api.batches.pages import BatchIn, Page, PageIn, digest, plan_page
from api.batches.paging import DEFAULT_LIMIT, page_params
from api.batches.status import (
    batch_or_404,
    batch_status,
    new_batch_page,
    parent_handle,
    parent_status,
    with_parent_status,
)
from api.batches.updates import BatchClosed, UpdateRefused, run_update
from api.http.bodies import check_id, read_model
from api.http.correlation import current_correlation_id
from api.http.errors import ApiError
from api.http.idempotency import idempotency_key
from api.temporal import rpc_timeout, settings, status_cache, temporal
from contracts.batch import (
    STATUS_MEMO,
    AddPageInput,
    BatchInput,
    BatchStatus,
    ChunkAction,
    ChunkCommand,
    ChunkInput,
    ChunkPlan,
    ChunkStatus,
    CloseInput,
    PageAssignment,
    TriggerResult,
    encode_hashes,
    essay_id_hash,
)
from contracts.ids import (
    BATCH_WORKFLOW,
    batch_search_attributes,
    batch_workflow_id,
    chunk_key,
    chunk_workflow_id,
    page_key_of,
)
from tracing import current_traceparent
from workflows.batch import NEVER_TAKEN, BatchWorkflow, page_assigned
from workflows.chunk import ChunkWorkflow

batches = Blueprint("batches", __name__)
log = logging.getLogger(__name__)

Page_ = TypeVar("Page_", bound=PageIn)
Closed = TypeVar("Closed")

# Fixed forever: the same Idempotency-Key must keep mapping to the same batch id.
BATCH_IDEMPOTENCY_NAMESPACE = uuid.UUID("5e2d8c1a-9f47-5b3e-8a60-7c4b2d1e0f93")


def _batch_id(body: BatchIn) -> str:
    key = idempotency_key()  # checked even when the body names the batch: never ignored
    if body.batch_id:
        return body.batch_id
    if key:
        return str(uuid.uuid5(BATCH_IDEMPOTENCY_NAMESPACE, scoped(key)))
    return str(uuid.uuid4())


async def _read(model: type[Page_]) -> Page_:
    body = await read_model(model, settings().max_batch_request_bytes)
    if len(body.essays) > settings().max_batch_essays:
        raise ApiError(
            413,
            "Too many essays",
            f"at most {settings().max_batch_essays} essays per request; "
            "send more with POST /v1/batch/{batch_id}/essays",
        )
    return body


def _accepted(batch_id: str, page: Page, correlation_id: str) -> tuple[dict, int, dict]:
    log.info(
        "batch page accepted",
        extra={"batch_id": batch_id, "correlation_id": correlation_id, "essays": len(page.essays)},
    )
    answer = BatchAccepted.of(batch_id, page, correlation_id)
    return answer.body(), 202, {"Location": answer.status_url}


@batches.post("/v1/batch")
async def create_batch():
    body = await _read(BatchIn)
    batch_id = _batch_id(body)
    with _adding(batch_id):
        return await _create(body, batch_id)


async def _create(body: BatchIn, batch_id: str) -> tuple[dict, int, dict]:
    correlation_id = current_correlation_id()
    page = plan_page(batch_id, body.essays)
    # The owner is part of what is created: another client's create under this batch id is
    # refused by the workflow itself (BatchConflict), however the two requests interleave.
    client = current_client()
    create_digest = digest([page.digest, body.metadata, *([client] if client else [])])
    start = functools.partial(
        WithStartWorkflowOperation,
        BatchWorkflow.run,
        BatchInput(
            batch_id=batch_id,
            correlation_id=correlation_id,
            metadata=body.metadata,
            create_digest=create_digest,
            batch_check_s=settings().batch_check_s,
            max_essays=settings().max_batch_total_essays,
            max_pages=settings().max_batch_pages,
            following=settings().following(),
            traceparent=current_traceparent(),
        ),
        id=batch_workflow_id(batch_id),
        task_queue=settings().batch_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        memo={"correlation_id": correlation_id, "create_digest": create_digest, **owner_memo()},
        search_attributes=batch_search_attributes(batch_id),
        static_summary=f"Batch {batch_id}: parent of its chunk workflows",
    )
    keys = _chunk_keys(page)
    # The chunks first, the parent's update second, the 202 only after both: every chunk a
    # client is answered 202 for exists, and one the parent never took cancels itself.
    chunks = await _start_chunks(batch_id, page, keys, correlation_id)
    try:
        assignment = await _assign(
            batch_id,
            keys,
            # A start operation serves one call: each attempt gets its own.
            lambda: temporal().execute_update_with_start_workflow(
                BatchWorkflow.add_page,
                _page_input(page, keys, correlation_id, create_digest),
                start_workflow_operation=start(),
                rpc_timeout=rpc_timeout(),
            ),
        )
    except WorkflowAlreadyStartedError:
        # The batch exists and is closed: the same request still gets its answer, if the
        # batch took its page.
        description = await _ours_or_in_use(batch_id)
        memo = await description.memo() if description else {}
        if memo.get("create_digest") != create_digest:
            raise ApiError(
                409, "Conflict", f"batch {batch_id} exists with different essays"
            ) from None
        if not await _took_page(batch_id, keys[0]):
            raise ApiError(409, "Conflict", f"batch {batch_id} is closed") from None
        return _accepted(batch_id, page, str(memo.get("correlation_id")))
    except Exception:
        # A conflict, or a workflow under the id that is not a batch (no such update, or no
        # worker for its type): another client's id, or no batch's, is "in use".
        await _ours_or_in_use(batch_id)
        raise
    if assignment.duplicate:
        correlation_id = await _original_correlation_id(batch_id)
    if assignment.status is not None and not assignment.duplicate:
        # The client's first status read (the usual first page) is answered from here, not
        # from the server, which is busiest as a batch starts (docs/performance.md, B4).
        status_cache().seed(
            (current_client(), batch_id, 0, DEFAULT_LIMIT),
            new_batch_page(assignment.status, chunks, 0, DEFAULT_LIMIT),
        )
    return _accepted(batch_id, page, correlation_id)


@batches.post("/v1/batch/<batch_id>/essays")
async def add_essays(batch_id: str):
    check_id("batch_id", batch_id)
    body = await _read(PageIn)
    await _check_owner(batch_id)
    correlation_id = current_correlation_id()
    page = plan_page(batch_id, body.essays)
    keys = _chunk_keys(page)
    handle = parent_handle(batch_id)
    with _adding(batch_id):
        # The chunks first, the parent's update second (see _create).
        await _start_chunks(batch_id, page, keys, correlation_id)
        await _assign(
            batch_id,
            keys,
            lambda: handle.execute_update(
                BatchWorkflow.add_page,
                _page_input(page, keys, correlation_id),
                rpc_timeout=rpc_timeout(),
            ),
        )
    return _accepted(batch_id, page, correlation_id)


@batches.post("/v1/batch/<batch_id>/spellcheck")
async def trigger(batch_id: str):
    check_id("batch_id", batch_id)
    await _check_owner(batch_id)
    result = await _close(
        batch_id,
        lambda: parent_handle(batch_id).execute_update(
            BatchWorkflow.trigger, _close_input(), rpc_timeout=rpc_timeout()
        ),
        lambda result: result.status,
        lambda status: (
            TriggerResult(essay_count=status.counts.total, status=status)
            if _repeats(status.trigger_key)
            else None
        ),
    )
    log.info("batch triggered", extra={"essays": result.essay_count})
    answer = BatchTriggered(
        batch_id=batch_id, essay_count=result.essay_count, status_url=status_url(batch_id)
    )
    return answer.body(), 202


@batches.post("/v1/batch/<batch_id>/retry")
async def retry(batch_id: str):
    check_id("batch_id", batch_id)
    await _check_owner(batch_id)
    result = await _close(
        batch_id,
        lambda: parent_handle(batch_id).execute_update(
            BatchWorkflow.retry, _close_input(), rpc_timeout=rpc_timeout()
        ),
        lambda result: result.status,
        lambda status: None,  # a closed batch's window is over: nothing to retry
    )
    log.info("batch retried", extra={"essays": result.essay_count, "round": result.round})
    answer = BatchRetried(
        batch_id=batch_id,
        essay_count=result.essay_count,
        round=result.round,
        status_url=status_url(batch_id),
    )
    return answer.body(), 202


@batches.post("/v1/batch/<batch_id>/cancel")
async def cancel(batch_id: str):
    check_id("batch_id", batch_id)
    await _check_owner(batch_id)
    await _close(
        batch_id,
        lambda: parent_handle(batch_id).execute_update(
            BatchWorkflow.cancel, _close_input(), rpc_timeout=rpc_timeout()
        ),
        lambda status: status,
        lambda status: status if _repeats(status.cancel_key) else None,
    )
    log.info("batch cancelled")
    return BatchCancelled(batch_id=batch_id, status_url=status_url(batch_id)).body(), 202


@batches.get("/v1/batch/<batch_id>/status")
async def status(batch_id: str):
    check_id("batch_id", batch_id)
    offset, limit = page_params(request.args)
    answer, age_s = await status_cache().get(
        (current_client(), batch_id, offset, limit),
        lambda: batch_status(batch_id, offset, limit),
    )
    # RFC 9111's Age: whole seconds since the answer was read from the workflows.
    return answer.body(), 200, {"Age": str(int(age_s))}


@contextlib.contextmanager
def _adding(batch_id: str) -> Iterator[None]:
    """Around a create or added page: the batch's cached status answers are refreshed, whether
    or not it got through (part of a failed request may still have been applied)."""
    try:
        yield
    finally:
        status_cache().outdate(batch_id)


async def _close(
    batch_id: str,
    update: Callable[[], Awaitable[Closed]],
    status_of: Callable[[Closed], BatchStatus | None],
    answered: Callable[[BatchStatus], Closed | None],
) -> Closed:
    """A trigger or cancel. The batch's cached status answers are revised with the status the
    update answered, so the client's next status shows it without waiting on the server; they
    go when there is none (a worker that predates it), or when the update failed (a timed-out
    one may still have been applied). Once the batch has closed, the same request (its
    Idempotency-Key) still gets `answered`'s first answer."""
    try:
        result = await run_update(update, batch_id=batch_id)
    except BatchClosed as closed:
        status_cache().forget(batch_id)
        again = answered(closed.batch_status)
        if again is None:
            raise
        return again
    except BaseException:
        status_cache().forget(batch_id)
        raise
    status = status_of(result)
    if status is None:
        status_cache().forget(batch_id)
    else:
        status_cache().revise(batch_id, functools.partial(with_parent_status, status=status))
    return result


async def _check_owner(batch_id: str) -> None:
    """Before an update: 404 for another client's batch, or for a workflow under its id that
    is not a batch. The owner and type never change, so a check before the update is as good
    as one inside it."""
    await batch_or_404(batch_id)


async def _ours_or_in_use(batch_id: str) -> WorkflowExecutionDescription | None:
    """The batch's parent if it is a batch of this client's, None if nothing holds the id;
    409 when something else does: the id is in use."""
    try:
        description = await parent_handle(batch_id).describe(rpc_timeout=rpc_timeout())
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if not await is_ours(description, BATCH_WORKFLOW):
        raise id_in_use("batch", batch_id)
    return description


def _repeats(first_key: str | None) -> bool:
    """Whether this request repeats the one that closed the batch (the same Idempotency-Key)."""
    key = _close_input().idempotency_key
    return key is not None and key == first_key


def _close_input() -> CloseInput:
    """A trigger's or cancel's Idempotency-Key, per client: the same request sent again (after
    a 503 that left its outcome unknown) gets its first answer."""
    key = idempotency_key()
    return CloseInput(idempotency_key=scoped(key) if key else None)


async def _assign(
    batch_id: str, keys: list[str], update: Callable[[], Awaitable[PageAssignment]]
) -> PageAssignment:
    """The page's update on the parent, once its chunks are started. A page the batch refused
    for what it holds (closed, full, or an essay id it has) was never taken, so its just-started
    chunks are told to cancel now rather than find out at their next look."""
    try:
        return await run_update(update, batch_id=batch_id)
    except UpdateRefused as refused:
        if refused.reason in NEVER_TAKEN:
            await asyncio.gather(
                *(_cancel_chunk(batch_id, key) for key in keys), return_exceptions=True
            )
        raise


async def _cancel_chunk(batch_id: str, key: str) -> None:
    handle = temporal().get_workflow_handle_for(ChunkWorkflow.run, chunk_workflow_id(batch_id, key))
    await handle.signal(
        ChunkWorkflow.command, ChunkCommand(action=ChunkAction.CANCEL), rpc_timeout=rpc_timeout()
    )


def _chunk_keys(page: Page) -> list[str]:
    """The page's chunks' keys: the same for a retried page, and never another client's."""
    page_key = digest([current_client() or "", page.digest])[:16]
    return [chunk_key(page_key, i) for i in range(len(page.chunks))]


async def _took_page(batch_id: str, first_key: str) -> bool:
    """Did the (closed) batch take the page whose first chunk has this key?"""
    status = await parent_status(parent_handle(batch_id), batch_id)
    return page_assigned(status, page_key_of(first_key))


def _page_input(
    page: Page, keys: list[str], correlation_id: str, create_digest: str | None = None
) -> AddPageInput:
    return AddPageInput(
        page_digest=page.digest,
        chunks=[
            ChunkPlan(key=key, essay_count=len(chunk))
            for key, chunk in zip(keys, page.chunks, strict=True)
        ],
        correlation_id=correlation_id,
        client_essay_ids=page.client_essay_ids,
        create_digest=create_digest,
        id_hashes=encode_hashes(essay_id_hash(e.essay_id) for e in page.essays),
    )


async def _original_correlation_id(batch_id: str) -> str:
    description = await parent_handle(batch_id).describe(rpc_timeout=rpc_timeout())
    return str((await description.memo()).get("correlation_id"))


async def _start_chunks(
    batch_id: str, page: Page, keys: list[str], correlation_id: str
) -> list[ChunkStatus]:
    """Start each chunk with its texts; a chunk that exists already (a retry) is left alone.
    Returns the status each chunk starts with, in page order."""
    statuses = [
        ChunkStatus.all_received(batch_id, key, [e.essay_id for e in essays])
        for key, essays in zip(keys, page.chunks, strict=True)
    ]
    owner = current_client()

    async def start(status: ChunkStatus, essays) -> None:
        key = status.chunk_key
        # AlreadyStarted: an earlier attempt of this request started it, and it has closed.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await temporal().start_workflow(
                ChunkWorkflow.run,
                ChunkInput(
                    batch_id=batch_id,
                    correlation_id=correlation_id,
                    essays=essays,
                    heartbeat_timeout_s=settings().activity_heartbeat_timeout_s,
                    chunk_key=key,
                    batch_check_s=settings().batch_check_s,
                    owner=owner,
                    traceparent=current_traceparent(),
                    following=settings().following(),
                ),
                id=chunk_workflow_id(batch_id, key),
                task_queue=settings().batch_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=batch_search_attributes(batch_id),
                # What its first workflow task writes there too: every essay received. Status
                # reads find it from the start, rather than query a worker that may be busy.
                memo={STATUS_MEMO: status, **owner_memo()},
                static_summary=(
                    f"Batch {batch_id}, chunk {key}: {len(essays)} essays "
                    f"({essays[0].essay_id} .. {essays[-1].essay_id})"
                ),
                rpc_timeout=rpc_timeout(),
            )

    await asyncio.gather(*(start(s, chunk) for s, chunk in zip(statuses, page.chunks, strict=True)))
    return statuses
