"""Updates on a batch's parent workflow, with its refusals turned into HTTP answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.batches.status import batch_or_404, parent_handle, parent_status
from api.http.errors import ApiError, service_unavailable
from contracts.batch import BatchStatus, closed_because
from workflows.batch import CONFLICT_ERRORS

T = TypeVar("T")
log = logging.getLogger(__name__)


class UpdateRefused(ApiError):
    """A 409 from the batch itself; `reason` is its error type (workflows/batch.py)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(409, "Conflict", message)
        self.reason = reason


class BatchClosed(ApiError):
    """The batch's workflow has closed, so no update reaches it: a 409 saying what it is now,
    with the status it closed with."""

    def __init__(self, status: BatchStatus) -> None:
        super().__init__(409, "Conflict", closed_because(status))
        self.batch_status = status


async def run_update(
    call: Callable[[], Awaitable[T]], batch_id: str | None = None, attempts: int = 3
) -> T:
    """`call()`'s update, its refusals turned into HTTP answers. The server refuses an update
    while the batch's run is continuing-as-new, which passes at once: such a refusal is sent
    again (the updates are idempotent), a few times."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type in CONFLICT_ERRORS:
                raise UpdateRefused(cause.type, cause.message) from None
            raise
        except RPCError as exc:
            # An update cannot reach a closed workflow: tell "unknown" (404) from "closed"
            # (409), and both from a running batch between two runs (sent again).
            if batch_id is None or exc.status not in (
                RPCStatusCode.NOT_FOUND,
                RPCStatusCode.FAILED_PRECONDITION,
            ):
                raise
            description = await batch_or_404(batch_id)
            if description.status != WorkflowExecutionStatus.RUNNING:
                status = await parent_status(parent_handle(batch_id), batch_id)
                raise BatchClosed(status) from None
            log.warning("update refused by a running batch, attempt %d: %s", attempt, exc.message)
    raise service_unavailable(f"batch {batch_id} refused the request for now; retry")
