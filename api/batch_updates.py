"""Updates on a batch's parent workflow, with its refusals turned into HTTP answers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.batch_status import batch_or_404
from api.errors import ApiError
from workflows.batch import CONFLICT_ERRORS

T = TypeVar("T")


class UpdateRefused(ApiError):
    """A 409 from the batch itself; `reason` is its error type (workflows/batch.py)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(409, "Conflict", message)
        self.reason = reason


async def run_update(call: Awaitable[T], batch_id: str | None = None) -> T:
    try:
        return await call
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in CONFLICT_ERRORS:
            raise UpdateRefused(cause.type, cause.message) from None
        raise
    except RPCError as exc:
        # An update cannot reach a closed workflow: tell "unknown" (404) from "closed" (409).
        if batch_id is None or exc.status not in (
            RPCStatusCode.NOT_FOUND,
            RPCStatusCode.FAILED_PRECONDITION,
        ):
            raise
        description = await batch_or_404(batch_id)
        raise ApiError(
            409, "Conflict", f"batch {batch_id} is closed ({description.status.name.lower()})"
        ) from None
