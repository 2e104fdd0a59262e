"""Single essays: `POST /v1/trigger-spellcheck`, `GET /v1/essays/<essay_id>/status` and
`POST /v1/essays/<essay_id>/retry`."""

from __future__ import annotations

import logging
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.access.owners import describe_owned, id_in_use, is_ours, owner_memo, scoped
from api.essays.start import start_essay_workflow, text_digest
from api.essays.status import essay_status
from api.http.answers import Answer
from api.http.bodies import ClientId, NonBlankText, check_id, read_model
from api.http.correlation import current_correlation_id
from api.http.errors import ApiError
from api.http.idempotency import idempotency_key
from api.temporal import rpc_timeout, settings, temporal
from contracts.batch import CloseInput
from contracts.ids import ESSAY_WORKFLOW, essay_workflow_id
from logging_setup import bind_log_context
from workflows.essay import NOT_RETRIABLE, EssayWorkflow

essays = Blueprint("essays", __name__)
log = logging.getLogger(__name__)

# Fixed forever: the same Idempotency-Key must keep mapping to the same essay id.
IDEMPOTENCY_NAMESPACE = uuid.UUID("0b4f7d3e-2c71-5a0e-8f43-61d2a9c5e7b8")


class TriggerSpellcheckRequest(BaseModel):
    # strict: a number is not a text; forbid: a misspelt field is an error, not silently dropped.
    model_config = ConfigDict(extra="forbid", strict=True)

    text: NonBlankText
    essay_id: ClientId | None = None


class EssayAccepted(Answer):
    message: Literal["Spellcheck triggered"] = "Spellcheck triggered"
    essay_id: str
    correlation_id: str


# An essay's status answer is the workflow's own `contracts.essay.EssayStatus`.


def _essay_id(body: TriggerSpellcheckRequest) -> str:
    """The client's essay id, else one derived from the Idempotency-Key, else a new UUID."""
    key = idempotency_key()  # checked even when the body names the essay: never ignored
    if body.essay_id:
        return body.essay_id
    if key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, scoped(key)))


@essays.post("/v1/trigger-spellcheck")
async def trigger_spellcheck():
    body = await read_model(TriggerSpellcheckRequest, settings().max_request_bytes)
    essay_id = _essay_id(body)
    bind_log_context(essay_id=essay_id)
    correlation_id = current_correlation_id()
    try:
        await start_essay_workflow(
            temporal(),
            task_queue=settings().temporal_task_queue,
            essay_id=essay_id,
            text=body.text,
            correlation_id=correlation_id,
            extra_memo=owner_memo(),
            rpc_timeout=rpc_timeout(),
            following=settings().following(),
        )
    except WorkflowAlreadyStartedError:
        existing = temporal().get_workflow_handle(essay_workflow_id(essay_id))
        correlation_id = await _same_essay_or_conflict(existing, essay_id, text_digest(body.text))
    # A repeated POST keeps the essay's first correlation id, which the line then carries.
    log.info("essay accepted", extra={"correlation_id": correlation_id})
    return (
        EssayAccepted(essay_id=essay_id, correlation_id=correlation_id).body(),
        202,
        {"Location": f"/v1/essays/{essay_id}/status"},
    )


async def _same_essay_or_conflict(handle: WorkflowHandle, essay_id: str, text_sha256: str) -> str:
    """A repeat of the same essay returns the original; a different text under its id is 409,
    and so is an id another client (or anything but an essay) holds."""
    description = await handle.describe(rpc_timeout=rpc_timeout())
    if not await is_ours(description, ESSAY_WORKFLOW):
        raise id_in_use("essay", essay_id)
    memo = await description.memo()
    if memo.get("text_sha256") != text_sha256:
        raise ApiError(
            409,
            "Conflict",
            f"essay {essay_id} was already submitted with a different text",
        )
    return str(memo["correlation_id"])


@essays.get("/v1/essays/<essay_id>/status")
async def status(essay_id: str):
    check_id("essay_id", essay_id)
    handle = temporal().get_workflow_handle_for(EssayWorkflow.run, essay_workflow_id(essay_id))
    result = await essay_status(handle, essay_id)
    return result.model_dump(mode="json"), 200


class EssayRetried(Answer):
    message: Literal["Spellcheck requested again"] = "Spellcheck requested again"
    essay_id: str
    requests: int = Field(description="requests sent before this one")
    status_url: str


@essays.post("/v1/essays/<essay_id>/retry")
async def retry(essay_id: str):
    """A new request for an essay whose spellcheck failed or timed out (409 otherwise)."""
    check_id("essay_id", essay_id)
    handle = temporal().get_workflow_handle_for(EssayWorkflow.run, essay_workflow_id(essay_id))
    description = await describe_owned(handle, ESSAY_WORKFLOW, f"no essay with id {essay_id}")
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise await _retry_window_over(handle, essay_id)
    key = idempotency_key()
    try:
        status = await handle.execute_update(
            EssayWorkflow.retry,
            CloseInput(idempotency_key=scoped(key) if key else None),
            rpc_timeout=rpc_timeout(),
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == NOT_RETRIABLE:
            raise ApiError(409, "Conflict", cause.message) from None
        raise
    except RPCError as exc:
        if exc.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise
        raise await _retry_window_over(handle, essay_id) from None
    log.info("essay retried", extra={"requests": status.requests})
    answer = EssayRetried(
        essay_id=essay_id, requests=status.requests, status_url=f"/v1/essays/{essay_id}/status"
    )
    return answer.body(), 202


async def _retry_window_over(handle: WorkflowHandle, essay_id: str) -> ApiError:
    closed = await essay_status(handle, essay_id)
    return ApiError(
        409,
        "Conflict",
        f"the essay is {closed.state.value} and its workflow has closed: nothing to retry",
    )
