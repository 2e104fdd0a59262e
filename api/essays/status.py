"""An essay's status, read from its workflow: a query while it runs (which includes the step
being retried, its attempts and last error), its result or failure once closed (no worker
needed)."""

from __future__ import annotations

from temporalio.client import (
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.access.owners import describe_owned
from api.http.errors import TIMEOUT_CODES, ApiError, service_unavailable
from api.temporal import rpc_timeout
from contracts.essay import EssayState, EssayStatus
from contracts.ids import ESSAY_WORKFLOW
from workflows.essay import EssayWorkflow


async def essay_status(handle: WorkflowHandle, essay_id: str) -> EssayStatus:
    description = await describe_owned(handle, ESSAY_WORKFLOW, f"no essay with id {essay_id}")
    if description.status == WorkflowExecutionStatus.RUNNING:
        return await _running(handle)
    if description.status == WorkflowExecutionStatus.COMPLETED:
        return await handle.result(rpc_timeout=rpc_timeout())
    return await _closed_without_result(handle, description, essay_id)


async def _running(handle: WorkflowHandle) -> EssayStatus:
    try:
        return await handle.query(EssayWorkflow.status, rpc_timeout=rpc_timeout())
    except RPCError as exc:
        if exc.status in TIMEOUT_CODES:
            raise service_unavailable("no worker answered the status query; retry shortly") from exc
        raise


async def _closed_without_result(
    handle: WorkflowHandle, description: WorkflowExecutionDescription, essay_id: str
) -> EssayStatus:
    try:
        await handle.result(rpc_timeout=rpc_timeout())
    except WorkflowFailureError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "EssayFailed" and cause.details:
            return EssayStatus.model_validate(cause.details[0])
        memo = await description.memo()
        return EssayStatus(
            essay_id=essay_id,
            state=EssayState.FAILED,
            correlation_id=str(memo.get("correlation_id", "")),
            error=f"workflow {description.status.name.lower()}: {cause or exc}",
        )
    raise ApiError(500, "Internal server error", "the essay's workflow closed in an unknown way")
